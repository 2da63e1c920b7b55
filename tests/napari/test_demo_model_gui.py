"""The packaged demo model in the plugin: chosen in the model list, it gives real
masks on the sample time-lapse (a generator seed never used in training)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.checkpoints.registry import checkpoint_info, packaged_path
from napari_sam2.engine.synthetic import click_point

pytestmark = pytest.mark.skipif(
    not packaged_path(checkpoint_info("demo")).is_file(),
    reason="the demo model is not in this checkout",
)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1))


def test_demo_model_segments_and_tracks_a_sample_cell(make_napari_viewer, qtbot):
    from napari_sam2._napari.sample_data import timelapse_stack

    viewer = make_napari_viewer()
    viewer.open_sample("napari-sam2", "cells_timelapse")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "Segment Anything 2")
    s = widget.settings
    s.preset.setCurrentIndex(s.preset.findData("demo"))
    assert "demo" in s.preset.currentText() and s.value().preset == "demo"
    assert s.value().image_size is None  # the model's own input size (256)
    s.device.setCurrentText("cpu")
    widget.controller.threaded = True
    widget._sync_controller()
    assert widget.setup_layers()
    ctrl, labels = widget.controller, widget.controller.labels_layer

    truth = timelapse_stack().labels  # the sample's ground truth
    ids, counts = np.unique(truth[0], return_counts=True)
    cell = int(ids[1:][np.argmax(counts[1:])])  # the largest cell on frame 0
    x, y = click_point(truth[0], cell)
    viewer.dims.set_current_step(0, 0)
    ctrl.points_layer.add([[0, y, x]])
    qtbot.waitUntil(lambda: (labels.data[0] == 1).any() and not ctrl.is_running, timeout=120_000)
    assert _iou(labels.data[0] == 1, truth[0] == cell) >= 0.8

    widget.propagation.forward.click()
    qtbot.waitUntil(lambda: not ctrl.is_running, timeout=300_000)
    present = [t for t in range(len(truth)) if (truth[t] == cell).sum() >= 80]
    ious = [_iou(labels.data[t] == 1, truth[t] == cell) for t in present]
    assert len(present) >= 5 and np.mean(ious) >= 0.7, ious
