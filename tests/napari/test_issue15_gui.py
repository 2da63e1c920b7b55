"""Issue 15's bugs in a real viewer: keys, hidden layers, one binding per image,
clicks off the GUI thread, one undo per action, feedback."""

from __future__ import annotations

import numpy as np

from napari_sam2._napari.sample_data import make_timelapse


def _ready(open_widget, n=6, size=96):
    viewer, widget = open_widget(make_timelapse(n, size, 2))
    assert widget.setup_layers()
    return viewer, widget, widget.controller


def _key(layer, key):
    """Call what a layer binds to ``key`` (as napari would on a key press)."""
    for binding, func in layer.keymap.items():
        if str(binding).lower() == key:
            return func(layer)
    raise AssertionError(f"{key!r} is not bound on {layer.name}")


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
