"""Long-stack mode in the widget: the option reaches the session, a run writes every
slice as one undo step, and a cancelled run ends with the best path's masks."""

from __future__ import annotations

import numpy as np
from tests.napari.gui_wait import settle
from tests.napari.test_widget_flow import _click, _ready, _wait

from napari_sam2.engine.memory_tree import MemoryTree


def test_long_stack_option_runs_the_memory_tree(open_widget, qtbot):
    viewer, widget, labels = _ready(open_widget)
    s = widget.settings
    assert not s.pathways.isVisibleTo(widget)  # the tree's settings hide while it is off
    s.long_stack.setChecked(True)
    assert s.pathways.isVisibleTo(widget) and s.iou_threshold.isVisibleTo(widget)
    s.pathways.setValue(2)
    s.iou_threshold.setValue(0.3)
    s.iou_threshold.setValue(0.1)
    ctrl = widget.controller
    assert ctrl.settings.memory_tree == MemoryTree(pathways=2)
    _click(viewer, widget, 0)
    assert ctrl.session.memory_tree == MemoryTree(pathways=2)
    after_click = labels.data.copy()
    progress = []
    ctrl.progress.connect(lambda d, t: progress.append((d, t)))
    widget.propagation.forward.click()
    _wait(qtbot, widget)
    assert progress[-1] == (5, 5)  # re-emitted frames add no progress
    for frame in range(5):  # the layer shows the session's final answer on every slice
        np.testing.assert_array_equal(labels.data[frame] == 1, ctrl.session.result(frame).masks[0])
    ctrl.undo()  # the run, re-emissions included, is one undo step
    settle(ctrl)
    np.testing.assert_array_equal(labels.data, after_click)
    assert s.object_aware.isVisibleTo(widget) and s.object_aware.isChecked()
    s.object_aware.setChecked(False)  # plain SAM 2 memory: a cell that leaves stays gone
    assert ctrl.settings.memory_tree == MemoryTree(pathways=2, object_aware=False)
    widget.settings.long_stack.setChecked(False)
    assert ctrl.settings.memory_tree is None and ctrl.session.memory_tree is None


def test_cancelled_long_stack_run_shows_the_best_path(open_widget, qtbot):
    viewer, widget, labels = _ready(open_widget, n=6)
    widget.settings.long_stack.setChecked(True)
    ctrl = widget.controller
    _click(viewer, widget, 0)
    ctrl.frame_written.connect(lambda f: ctrl.cancel() if f >= 3 else None)
    widget.propagation.forward.click()
    _wait(qtbot, widget)
    assert ctrl.run.cancel_requested
    visited = ctrl.session.tracked_frames(1)
    assert 3 <= max(visited) < 5
    for frame in visited:
        np.testing.assert_array_equal(labels.data[frame] == 1, ctrl.session.result(frame).masks[0])
