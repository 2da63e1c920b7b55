"""“Segment all on this slice” in a real viewer: labels in a worker, one undo step."""

from __future__ import annotations

import numpy as np
from tests.napari.gui_wait import settle

from napari_sam2._napari.sample_data import make_timelapse


def test_segment_all_fills_the_slice_keeps_hand_labels_and_undoes(open_widget, qtbot):
    viewer, widget = open_widget(make_timelapse(3, 128, 3))
    assert widget.setup_layers()
    labels = widget.controller.labels_layer
    with labels.block_history():  # a hand-painted label on slice 1
        labels.data_setitem((np.array([1]), np.array([2]), np.array([3])), 7)
    before = labels.data.copy()
    viewer.dims.set_current_step(0, 1)
    panel = widget.automask
    panel.points.setValue(4)  # 16 clicks: quick on a CPU
    panel.iou.setValue(0.3)  # the stand-in weights predict low IoUs
    panel.stability.setValue(0.3)
    panel.button.click()
    assert not panel.button.isEnabled()  # running in a worker
    qtbot.waitUntil(lambda: panel.run is not None and panel.run.finished, timeout=180_000)
    assert panel.button.isEnabled() and panel.run.count >= 1
    data = labels.data
    new = np.unique(data[1][data[1] != before[1]])
    assert len(new) == panel.run.count and new.min() > 7  # fresh ids above those in use
    assert data[1, 2, 3] == 7  # the hand-painted label stays (overwrite off)
    np.testing.assert_array_equal(data[[0, 2]], before[[0, 2]])  # other slices untouched
    widget.controller.undo()  # the whole segmentation is one step of the plugin's undo
    settle(widget.controller)
    np.testing.assert_array_equal(labels.data, before)
