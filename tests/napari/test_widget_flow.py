"""The biologist's flow in a real napari viewer, on stand-in weights."""

from __future__ import annotations

import numpy as np
import torch
from tests.napari.gui_wait import settle

from napari_sam2._napari.sample_data import make_timelapse

N = 5
CENTER = (64, 64)  # a click the stand-in weights answer with a non-empty mask


def _click(viewer, widget, frame, row=CENTER[0], col=CENTER[1], positive=True):
    points = widget.controller.points_layer
    defaults = points.feature_defaults.iloc[0].to_dict()
    points.feature_defaults = {**defaults, "positive": positive}
    viewer.dims.set_current_step(0, frame)
    points.add([[frame, row, col]])
    settle(widget.controller)  # the model works in a worker; wait for the mask


def _ready(open_widget, n=N):
    viewer, widget = open_widget(make_timelapse(n, 128, 3))
    assert widget.setup_layers()
    return viewer, widget, widget.controller.labels_layer


def _wait(qtbot, widget, timeout=120_000):
    qtbot.waitUntil(lambda: not widget.controller.is_running, timeout=timeout)


def test_click_on_slice_k_creates_mask_on_slice_k(open_widget):
    viewer, widget, labels = _ready(open_widget)
    _click(viewer, widget, 2)
    area = (labels.data > 0).sum(axis=(1, 2))
    assert area[2] > 0 and area[[0, 1, 3, 4]].sum() == 0
    assert widget.objects.table.rowCount() == 1  # the object list shows it
    assert widget.objects.table.item(0, 2).text() == "2"


def test_propagation_fills_every_slice_with_progress_then_undo(open_widget, qtbot):
    viewer, widget, labels = _ready(open_widget)
    _click(viewer, widget, 2)
    after_click = labels.data.copy()
    progress = []
    widget.controller.progress.connect(lambda d, t: progress.append((d, t)))
    widget.propagation.both.click()
    assert widget.controller.is_running and widget.propagation.cancel.isEnabled()
    _wait(qtbot, widget)
    assert ((labels.data > 0).sum(axis=(1, 2)) > 0).all()
    assert progress[-1] == (N + 1, N + 1)  # both ways: the anchor slice twice
    assert widget.propagation.progress.value() == N + 1
    widget.controller.undo()  # the whole run is one undo step
    settle(widget.controller)
    np.testing.assert_array_equal(labels.data, after_click)


def test_cancel_keeps_finished_slices(open_widget, qtbot):
    viewer, widget, labels = _ready(open_widget, n=6)
    _click(viewer, widget, 0)
    ctrl = widget.controller
    written = []
    ctrl.frame_written.connect(written.append)
    ctrl.frame_written.connect(lambda f: ctrl.cancel() if f >= 1 else None)
    widget.propagation.forward.click()
    _wait(qtbot, widget)
    area = (labels.data > 0).sum(axis=(1, 2))
    assert ctrl.run.cancel_requested and ctrl.run.done < 6
    assert all(area[f] > 0 for f in written)  # what arrived stays
    assert area[max(written) + 1 :].sum() == 0  # nothing after the cancel
    assert not widget.propagation.cancel.isEnabled()


def test_refinement_on_slice_j_changes_later_slices(open_widget, qtbot):
    viewer, widget, labels = _ready(open_widget)
    _click(viewer, widget, 0)
    widget.propagation.forward.click()
    _wait(qtbot, widget)
    before = labels.data.copy()
    j = 3
    _click(viewer, widget, j, 40, 90)  # a second, refining click on slice j
    widget.propagation.forward.click()
    _wait(qtbot, widget)
    changed = [not np.array_equal(before[f], labels.data[f]) for f in range(N)]
    assert not any(changed[:j]) and changed[j] and any(changed[j + 1 :])


def test_candidates_cycle_and_delete_object_with_undo(open_widget):
    viewer, widget, labels = _ready(open_widget)
    _click(viewer, widget, 1)
    first = labels.data[1].copy()
    ctrl = widget.controller
    best = int(np.argmax(ctrl.session.candidates(1, 1).iou))
    indices, shown = [], []
    for _ in range(3):
        ctrl.cycle_candidate()
        settle(ctrl)
        indices.append(ctrl._candidate_index[(1, 1)])
        shown.append(labels.data[1].copy())
    assert indices == [(best + k) % 3 for k in (1, 2, 3)]  # the first c shows another mask
    assert not np.array_equal(shown[0], first)  # another candidate is shown at once
    np.testing.assert_array_equal(shown[2], first)  # three presses: back to the best
    widget.objects.delete(1)  # the row's Delete button
    assert not labels.data.any() and len(ctrl.points_layer.data) == 0
    assert widget.objects.table.rowCount() == 0
    widget.objects.undo_button.click()
    settle(ctrl)
    assert labels.data[1].any() and len(ctrl.points_layer.data) == 1


def test_new_object_never_overwrites_the_first(open_widget):
    viewer, widget, labels = _ready(open_widget)
    _click(viewer, widget, 2)
    obj1 = labels.data[2] == 1
    widget.objects.new_button.click()
    assert labels.selected_label == 2
    _click(viewer, widget, 2, 66, 66)  # inside object 1
    assert (labels.data[2][obj1] == 1).all()  # object 1 kept its pixels
    assert [o[0] for o in widget.controller.objects()] == [1, 2]


def test_model_loads_in_background_and_prompts_wait_for_it(open_widget, qtbot, notifications):
    from napari_sam2._napari import models

    _viewer, widget = open_widget(make_timelapse(3, 96, 2))
    models._CACHE.clear()  # as on a first start: nothing loaded yet
    assert widget.setup_layers()
    ctrl = widget.controller
    assert ctrl._loading is not None  # loading in a worker thread
    ctrl.points_layer.add([[0, 48, 48]])
    assert any("still loading" in m for _, m in notifications)
    qtbot.waitUntil(lambda: ctrl._loading is None, timeout=60_000)
    settle(ctrl)
    assert (0, 1) in ctrl.state().sent  # the waiting click was segmented


def test_shown_slice_is_prepared_so_clicks_answer_at_once(open_widget, qtbot):
    """Resting on a slice encodes it (and, once tracked, conditions it on the
    object's memories) in the background; the click then does neither."""
    viewer, widget, labels = _ready(open_widget)
    ctrl = widget.controller
    viewer.dims.set_current_step(0, 2)
    qtbot.waitUntil(lambda: (2, None) in ctrl.prefetcher.done, timeout=60_000)
    model = ctrl.session.model
    calls = []
    hooks = [
        model.image_encoder.register_forward_hook(lambda *_: calls.append("encode")),
        model.memory_attention.register_forward_hook(lambda *_: calls.append("memory")),
    ]
    try:
        _click(viewer, widget, 2)
        assert calls == [] and labels.data[2].any()
        widget.propagation.forward.click()
        _wait(qtbot, widget)
        viewer.dims.set_current_step(0, 4)
        qtbot.waitUntil(lambda: (4, 1) in ctrl.prefetcher.done, timeout=60_000)
        calls.clear()
        before = labels.data[4].copy()
        _click(viewer, widget, 4, 40, 90)  # a refinement on a tracked slice
        assert calls == []
        assert not np.array_equal(before, labels.data[4])
    finally:
        for hook in hooks:
            hook.remove()


def test_model_download_shows_progress_in_the_viewer(
    open_widget, qtbot, standin_checkpoint, tmp_path, monkeypatch
):
    import dataclasses
    import hashlib

    from napari.utils import progress
    from tests.checkpoints.http_server import CheckpointServer

    from napari_sam2 import checkpoints
    from napari_sam2._napari import models

    body = standin_checkpoint.read_bytes()
    preset = "sam2.1_hiera_tiny"
    info = dataclasses.replace(
        checkpoints.REGISTRY[preset], sha256=hashlib.sha256(body).hexdigest()
    )
    monkeypatch.setitem(checkpoints.REGISTRY, preset, info)
    monkeypatch.setenv("NAPARI_SAM2_CACHE_DIR", str(tmp_path / "cache"))
    server = CheckpointServer(body)
    monkeypatch.setenv("NAPARI_SAM2_BASE_URL", server.url)
    bars = []

    def record(event):
        bars.extend(event.added)

    progress._all_instances.events.changed.connect(record)
    try:
        _viewer, widget = open_widget(make_timelapse(3, 96, 2))
        widget.settings.checkpoint.setText("")  # no file given: the cache, downloading
        widget._sync_controller()
        models._CACHE.clear()
        assert widget.setup_layers()
        ctrl = widget.controller
        qtbot.waitUntil(lambda: ctrl._loading is None, timeout=120_000)
    finally:
        server.close()
        progress._all_instances.events.changed.disconnect(record)
    assert any(b.desc == f"downloading {preset}" and b.total == len(body) for b in bars)
    assert (tmp_path / "cache" / info.filename).read_bytes() == body
    assert models.is_loaded(ctrl.model_spec)


def test_bfloat16_choice_reaches_the_model_spec_and_is_ignored_on_cpu(open_widget, monkeypatch):
    from napari_sam2._napari import models
    from napari_sam2.checkpoints import loading

    monkeypatch.setattr(loading, "cpu_supports_bfloat16", lambda: False)  # a CPU without units

    viewer, widget = open_widget(make_timelapse(3, 96, 2))
    widget.settings.bfloat16.setChecked(True)  # toggling syncs the controller
    spec = widget.controller.model_spec
    assert (
        spec.bfloat16
        and spec.precision("cpu") == "float32"
        and spec.precision("cuda") == "bfloat16"
    )
    assert widget.setup_layers()
    _click(viewer, widget, 1)
    assert (widget.controller.labels_layer.data[1] > 0).any()
    assert models.get_model(spec).compute_dtype == torch.float32
