"""Prompt kinds and keys in the viewer: boxes, mask layers, the t/c keys, hand-painted labels."""

from __future__ import annotations

import numpy as np
from tests.napari.gui_wait import settle

from napari_sam2._napari.sample_data import make_timelapse


def _ready(open_widget, n=3):
    viewer, widget = open_widget(make_timelapse(n, 96, 2))
    assert widget.setup_layers()
    return viewer, widget, widget.controller


def _key(layer, key):
    """Call what a layer binds to ``key`` (as napari would on a key press)."""
    for binding, func in layer.keymap.items():
        if str(binding).lower() == key:
            return func(layer)
    raise AssertionError(f"{key!r} is not bound on {layer.name}")


def test_box_prompt_segments_its_slice(open_widget):
    _viewer, _widget, ctrl = _ready(open_widget)
    ctrl.shapes_layer.add_rectangles(np.array([[1, 20, 20], [1, 20, 70], [1, 70, 70], [1, 70, 20]]))
    settle(ctrl)
    area = (ctrl.labels_layer.data > 0).sum(axis=(1, 2))
    assert area[1] > 0 and area[[0, 2]].sum() == 0
    assert ctrl.state().sent[(1, 1)].box == (20.0, 20.0, 70.0, 70.0)


def test_labels_layer_as_mask_prompt(open_widget):
    viewer, widget, ctrl = _ready(open_widget)
    masks = np.zeros((3, 96, 96), np.uint32)
    masks[1, 30:60, 30:60] = 4
    other = viewer.add_labels(masks, name="cellpose")
    other.selected_label = 4
    widget.mask_layer.set_layer(other)
    viewer.dims.set_current_step(0, 1)
    widget.use_mask.click()
    settle(ctrl)
    out = ctrl.labels_layer.data
    assert out[1].any() and not out[[0, 2]].any()
    assert ctrl.objects()[0][2] == [1]  # the mask is a prompt on slice 1


def test_t_toggles_polarity_and_c_cycles_candidates(open_widget):
    viewer, _widget, ctrl = _ready(open_widget)
    pts = ctrl.points_layer
    _key(pts, "t")
    settle(ctrl)
    assert not pts.feature_defaults["positive"].iloc[0]  # next point is negative
    _key(pts, "t")
    settle(ctrl)
    viewer.dims.set_current_step(0, 0)
    pts.add([[0, 48, 48]])
    settle(ctrl)
    assert bool(pts.features["positive"].iloc[0])
    before = ctrl.labels_layer.data[0].copy()
    _key(pts, "c")
    settle(ctrl)
    _key(ctrl.labels_layer, "c")
    settle(ctrl)
    assert not np.array_equal(before, ctrl.labels_layer.data[0])
    pts.mode = "select"
    pts.selected_data = {0}
    _key(pts, "t")  # flip the point selected on purpose: it becomes a negative click
    settle(ctrl)
    assert ctrl.state().sent[(0, 1)].labels == (0,)


def test_hand_painted_labels_are_protected_unless_overwrite(open_widget):
    viewer, widget, ctrl = _ready(open_widget)
    ctrl.labels_layer.data[0] = 9  # a label painted by hand over the whole slice
    ctrl.labels_layer.selected_label = 1
    viewer.dims.set_current_step(0, 0)
    ctrl.points_layer.add([[0, 48, 48]])
    settle(ctrl)
    assert (ctrl.labels_layer.data[0] == 9).all()
    widget.settings.overwrite.setChecked(True)
    ctrl.points_layer.add([[0, 50, 50]])
    settle(ctrl)
    assert (ctrl.labels_layer.data[0] == 1).any()


def test_moving_a_point_segments_again(open_widget):
    viewer, _widget, ctrl = _ready(open_widget)
    viewer.dims.set_current_step(0, 2)
    ctrl.points_layer.add([[2, 48, 48]])
    settle(ctrl)
    ctrl.points_layer.data = np.array([[2, 30.0, 60.0]])  # dragged to a new place
    settle(ctrl)
    assert ctrl.state().sent[(2, 1)].points == ((60.0, 30.0),)
    ctrl.points_layer.data = np.array([[1, 30.0, 60.0]])  # moved to another slice
    settle(ctrl)
    sent = ctrl.state().sent
    assert sent[(2, 1)].empty and sent[(1, 1)].points == ((60.0, 30.0),)
    assert not ctrl.labels_layer.data[2].any() and ctrl.labels_layer.data[1].any()
