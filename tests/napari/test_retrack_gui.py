"""Targeted re-propagation from the propagation panel: only the corrected object
changes, from the corrected slice on; other objects' labels are untouched."""

from __future__ import annotations

import numpy as np
from tests.napari.gui_wait import settle
from tests.napari.test_widget_flow import _click, _wait

from napari_sam2._napari.sample_data import make_timelapse

N = 6


def test_retrack_changes_only_the_corrected_object(open_widget, qtbot):
    viewer, widget = open_widget(make_timelapse(N, 128, 3))
    assert widget.setup_layers()
    labels = widget.controller.labels_layer
    _click(viewer, widget, 0)
    widget.objects.new_button.click()
    _click(viewer, widget, 0, 40, 90)
    widget.propagation.from_here.setChecked(False)
    widget.propagation.forward.click()
    _wait(qtbot, widget)
    before = labels.data.copy()
    assert (before == 1).any() and (before == 2).any(), [np.unique(f) for f in before]

    labels.selected_label = 1
    j = 2
    _click(viewer, widget, j, 90, 64)  # a correction of object 1 on slice j
    after_click = labels.data.copy()
    panel = widget.propagation
    panel.targeted.setChecked(True)
    assert not panel.both.isEnabled()
    panel.stop_early.setChecked(False)
    written = []
    widget.controller.frame_written.connect(written.append)
    panel.forward.click()
    _wait(qtbot, widget)
    assert sorted(set(written)) == list(range(j, N))
    np.testing.assert_array_equal(labels.data[:j], before[:j])  # nothing before the correction
    np.testing.assert_array_equal(labels.data == 2, before == 2)  # object 2 untouched
    changed = [not np.array_equal(after_click[f], labels.data[f]) for f in range(j + 1, N)]
    assert any(changed)
    widget.controller.undo()  # the re-track is one step of the plugin's undo
    settle(widget.controller)
    np.testing.assert_array_equal(labels.data, after_click)
