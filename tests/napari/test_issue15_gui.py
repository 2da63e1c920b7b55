"""Issue 15's bugs in a real viewer: keys, hidden layers, one binding per image,
clicks off the GUI thread, one undo per action, feedback."""

from __future__ import annotations

import numpy as np
from tests.napari.test_prompts_gui import _key

from napari_sam2._napari.bindings import ImageLayers
from napari_sam2._napari.sample_data import make_timelapse


def _ready(open_widget, n=6, size=96):
    viewer, widget = open_widget(make_timelapse(n, size, 2))
    assert widget.setup_layers()
    return viewer, widget, widget.controller




def _settle(ctrl, qtbot, timeout=60_000):
    """Wait until no model step is pending or running."""
    qtbot.waitUntil(lambda: not ctrl.busy, timeout=timeout)


def test_t_toggles_the_next_click_not_the_last(open_widget, qtbot):
    viewer, widget, ctrl = _ready(open_widget)
    pts = ctrl.points_layer
    viewer.dims.set_current_step(0, 0)
    pts.add([[0, 48, 48]])  # napari selects the new point
    _settle(ctrl, qtbot)
    before = ctrl.labels_layer.data[0].copy()
    viewer.dims.set_current_step(0, 5)
    widget.objects.new_object()  # label 2
    assert ctrl.current_object == 2
    _key(pts, "t")
    _settle(ctrl, qtbot)
    assert bool(pts.features["positive"].iloc[0])  # frame 0's click is untouched
    assert ctrl.state().sent[(0, 1)].labels == (1,)
    np.testing.assert_array_equal(ctrl.labels_layer.data[0], before)
    pts.add([[5, 40, 40]])
    _settle(ctrl, qtbot)
    new = pts.features.iloc[1]
    assert int(new["obj_id"]) == 2 and not bool(new["positive"])
    assert ctrl.state().sent[(5, 2)].labels == (0,)


def test_hidden_masks_layer_does_not_break_clicks(open_widget, qtbot, notifications):
    viewer, _widget, ctrl = _ready(open_widget)
    viewer.dims.set_current_step(0, 0)
    ctrl.labels_layer.visible = False
    viewer.dims.set_current_step(0, 3)
    ctrl.points_layer.add([[3, 48, 48]])
    _settle(ctrl, qtbot)
    assert not [m for level, m in notifications if level == "error"]
    assert ctrl.labels_layer.data[3].any()
    ctrl.labels_layer.visible = True


def test_each_image_has_its_own_prompt_and_output_layers(open_widget, qtbot):
    viewer, widget, ctrl = _ready(open_widget)
    first = ctrl.image_layer
    a_labels, a_points, a_boxes = ctrl.labels_layer, ctrl.points_layer, ctrl.shapes_layer
    viewer.dims.set_current_step(0, 0)
    a_points.add([[0, 48, 48]])
    _settle(ctrl, qtbot)
    a_masks = a_labels.data.copy()
    assert a_masks[0].any()

    second = viewer.add_image(make_timelapse(6, 96, 3, seed=7), name="zstack")
    widget.image.set_layer(second)
    assert ctrl.image_layer is second
    assert ctrl.points_layer is None and ctrl.labels_layer is None  # nothing of the first
    assert widget.setup_layers()
    assert ctrl.labels_layer is not a_labels and ctrl.points_layer is not a_points
    viewer.dims.set_current_step(0, 2)
    ctrl.points_layer.add([[2, 30, 30]])
    _settle(ctrl, qtbot)
    np.testing.assert_array_equal(a_labels.data, a_masks)  # the first image's masks stay
    b_labels = ctrl.labels_layer
    assert b_labels.data[2].any() and not b_labels.data[0].any()  # no replayed clicks

    widget.image.set_layer(first)
    assert ctrl.image_layers == ImageLayers(a_labels, a_points, a_boxes)
    assert widget.labels.layer() is a_labels and widget.points.layer() is a_points
    assert widget.setup_layers()
    _settle(ctrl, qtbot)
    np.testing.assert_array_equal(a_labels.data, a_masks)
    names = [layer.name for layer in viewer.layers]
    assert len(names) == 8 and not [n for n in names if "[" in n], names


MODEL_STEPS = ("encode_image", "condition", "decode", "segment", "mask_as_output", "encode_memory")


def _record_model_threads(monkeypatch) -> list[tuple[str, str]]:
    """(step, thread name) for every model step from now on."""
    import threading

    from napari_sam2.model.sam2 import SAM2Model

    seen: list[tuple[str, str]] = []
    for name in MODEL_STEPS:
        original = getattr(SAM2Model, name)

        def step(self, *args, _original=original, _name=name, **kwargs):
            seen.append((_name, threading.current_thread().name))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(SAM2Model, name, step)
    return seen


def test_no_model_step_runs_on_the_gui_thread(open_widget, qtbot, monkeypatch):
    import threading

    viewer, widget, ctrl = _ready(open_widget)
    steps = _record_model_threads(monkeypatch)
    calls = []
    session = ctrl.session
    original = session.set_prompt
    monkeypatch.setattr(session, "set_prompt", lambda *a, **k: calls.append(a) or original(*a, **k))

    viewer.dims.set_current_step(0, 1)
    ctrl.points_layer.add([[1, 48, 48]])  # returns at once: the model works in a worker
    assert ctrl.busy and viewer.text_overlay.visible  # the busy cue
    assert "slice 1" in viewer.text_overlay.text
    ctrl.points_layer.add([[1, 30, 60]])  # clicks that arrive meanwhile...
    ctrl.points_layer.add([[1, 60, 30]])
    _settle(ctrl, qtbot)
    assert not viewer.text_overlay.visible
    assert len(calls) <= 2  # ...are merged into one more job
    assert len(ctrl.state().sent[(1, 1)].points) == 3  # the latest state won
    assert ctrl.labels_layer.data[1].any()

    widget.propagation.forward.click()
    qtbot.waitUntil(lambda: ctrl.run is not None and not ctrl.is_running, timeout=120_000)
    viewer.dims.set_current_step(0, 4)
    ctrl.points_layer.add([[4, 20, 20]])  # a correction on a propagated slice
    _settle(ctrl, qtbot)
    _key(ctrl.points_layer, "c")
    _settle(ctrl, qtbot)

    assert steps, "no model step was recorded"
    gui = threading.main_thread().name
    on_gui = [name for name, thread in steps if thread == gui]
    assert not on_gui, f"model steps on the GUI thread: {sorted(set(on_gui))}"


def test_frames_along_uses_axis_labels_or_napari_slider_names(open_widget):
    viewer, widget = open_widget(make_timelapse(5, 64, 2))
    assert widget.frame_axis.itemText(0) == "slider -3 (axis 0, 5)"  # napari's slider: -3
    labelled = viewer.add_image(
        np.zeros((4, 5, 64, 64), np.uint16), name="tz", axis_labels=("t", "z", "y", "x")
    )
    widget.image.set_layer(labelled)
    texts = [widget.frame_axis.itemText(i) for i in range(widget.frame_axis.count())]
    assert texts == ["t (4)", "z (5)"]


def test_feedback_cancel_says_stopping_and_progress_resets_on_image_switch(open_widget, qtbot):
    viewer, widget, ctrl = _ready(open_widget, n=8)
    viewer.dims.set_current_step(0, 0)
    ctrl.points_layer.add([[0, 48, 48]])
    _settle(ctrl, qtbot)
    ctrl.frame_written.connect(lambda f: ctrl.cancel() if f >= 1 else None)
    seen = []
    ctrl.stopping.connect(lambda: seen.append(widget.propagation.cancel.text()))
    widget.propagation.forward.click()
    qtbot.waitUntil(lambda: ctrl.run is not None and not ctrl.is_running, timeout=120_000)
    assert seen == ["Stopping…"]  # Cancel said so at once...
    assert widget.propagation.cancel.text() == "Cancel"  # ...and is itself again at the end
    assert widget.propagation.progress.value() > 0
    other = viewer.add_image(make_timelapse(3, 64, 2, seed=3), name="other")
    widget.image.set_layer(other)
    assert widget.propagation.progress.value() == 0
    assert widget.propagation.progress.maximum() == 3


def test_one_ctrl_z_undoes_one_action_everywhere(open_widget, qtbot):
    viewer, widget, ctrl = _ready(open_widget, n=5)
    labels, pts = ctrl.labels_layer, ctrl.points_layer
    viewer.dims.set_current_step(0, 0)
    pts.add([[0, 48, 48]])
    _settle(ctrl, qtbot)
    after_click = labels.data.copy()
    widget.propagation.forward.click()
    painted = []

    def paint_once(frame):  # a brush stroke by hand while the run goes on
        if frame >= 1 and not painted:
            labels.paint((0, 5, 5), 9)
            painted.append(frame)

    ctrl.frame_written.connect(paint_once)
    qtbot.waitUntil(lambda: ctrl.run is not None and not ctrl.is_running, timeout=120_000)
    assert painted and labels.data[0, 5, 5] == 9 and labels.data[1:].any()
    stroke = labels.data == 9
    viewer.dims.set_current_step(0, 3)
    pts.add([[3, 30, 60]])  # a correction on a propagated slice
    _settle(ctrl, qtbot)
    assert ctrl.session.prompted_frames(1) == [0, 3]
    assert len(widget.objects.table.item(0, 2).text().split(",")) == 2

    _key(pts, "ctrl+z")  # undo the correction: its point, prompt and mask go
    _settle(ctrl, qtbot)

    _settle(ctrl, qtbot)
    assert len(pts.data) == 1 and ctrl.session.prompted_frames(1) == [0]
    assert (3, 1) not in ctrl.state().sent or ctrl.state().sent[(3, 1)].empty
    assert widget.objects.table.item(0, 2).text() == "0"
    _key(labels, "ctrl+z")  # undo the run: masks and memories of the run go...
    _settle(ctrl, qtbot)
    assert labels.data[0, 5, 5] == 9  # ...but not the stroke painted meanwhile
    expected = after_click.copy()
    expected[stroke] = 9
    np.testing.assert_array_equal(labels.data, expected)
    assert ctrl.session.tracked_frames(1) in ([], [0])
    _key(labels, "ctrl+z")  # the stroke, on its own
    _settle(ctrl, qtbot)
    np.testing.assert_array_equal(labels.data, after_click)
    _key(pts, "ctrl+z")  # the first click: the object list empties
    _settle(ctrl, qtbot)
    assert len(pts.data) == 0 and ctrl.session.obj_ids == [] and not labels.data.any()
    assert widget.objects.table.rowCount() == 0
    # the next run does not bring undone masks back
    pts.add([[0, 48, 48]])
    _settle(ctrl, qtbot)
    assert ctrl.session.prompted_frames(1) == [0]
