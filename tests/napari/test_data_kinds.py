"""3D, time-lapse (TYX, TZYX), multichannel and single 2D images through the widget."""

from __future__ import annotations

import numpy as np
from tests.napari.gui_wait import settle

from napari_sam2._napari.sample_data import make_timelapse, make_zstack


def _setup(open_widget, qtbot, data, **kwargs):
    viewer, widget = open_widget(data, **kwargs)
    assert widget.setup_layers()
    return viewer, widget, widget.controller


def _propagate(widget, qtbot, direction="forward"):
    getattr(widget.propagation, direction).click()
    qtbot.waitUntil(lambda: not widget.controller.is_running, timeout=120_000)


def test_zstack_zyx(open_widget, qtbot):
    viewer, widget, ctrl = _setup(open_widget, qtbot, make_zstack(4, 96, 3))
    viewer.dims.set_current_step(0, 0)
    ctrl.points_layer.add([[0, 48, 48]])
    settle(ctrl)
    _propagate(widget, qtbot)
    assert ((ctrl.labels_layer.data > 0).sum(axis=(1, 2)) > 0).all()


def test_tzyx_tracked_through_t_at_current_z(open_widget, qtbot):
    t = make_timelapse(3, 96, 3)
    data = np.stack([t, t // 2, t // 3], axis=1)  # (T=3, Z=3, Y, X)
    viewer, widget, ctrl = _setup(open_widget, qtbot, data)
    assert widget.frame_axis.currentData() == 0  # t is the default frame axis
    viewer.dims.set_current_step(1, 1)  # look at z = 1
    viewer.dims.set_current_step(0, 0)
    ctrl.points_layer.add([[0, 1, 48, 48]])
    settle(ctrl)
    _propagate(widget, qtbot)
    area = (ctrl.labels_layer.data > 0).sum(axis=(2, 3))  # (T, Z)
    assert (area[:, 1] > 0).all() and area[:, [0, 2]].sum() == 0  # only the z=1 plane


def test_tzyx_tracked_through_z(open_widget, qtbot):
    t = make_timelapse(2, 96, 3)
    data = np.stack([t, t, t], axis=1)  # (T=2, Z=3, Y, X)
    viewer, widget, ctrl = _setup(open_widget, qtbot, data)
    widget.frame_axis.setCurrentIndex(1)  # frames along z, at the current t
    viewer.dims.set_current_step(0, 1)
    viewer.dims.set_current_step(1, 0)
    ctrl.points_layer.add([[1, 0, 48, 48]])
    settle(ctrl)
    _propagate(widget, qtbot)
    area = (ctrl.labels_layer.data > 0).sum(axis=(2, 3))
    assert (area[1] > 0).all() and area[0].sum() == 0


def test_multichannel_tcyx_with_channel_choice(open_widget, qtbot):
    t = make_timelapse(2, 96, 3)
    data = np.stack([np.zeros_like(t), t], axis=1)  # (T, C=2, Y, X)
    viewer, widget, ctrl = _setup(open_widget, qtbot, data)
    widget.channel_axis.setCurrentIndex(2)  # "axis 1"
    widget.channel.setValue(1)
    assert widget.setup_layers()
    assert ctrl.labels_layer.data.shape == (2, 96, 96)  # the image minus its channels
    assert ctrl.state().session.num_frames == 2
    viewer.dims.set_current_step(0, 0)
    ctrl.points_layer.add([[0, 48, 48]])
    settle(ctrl)
    assert ctrl.labels_layer.data[0].any()


def test_single_2d_image_click_gives_mask(open_widget, qtbot):
    _viewer, widget, ctrl = _setup(open_widget, qtbot, make_timelapse(1, 96, 3)[0])
    assert widget.frame_axis.currentText() == "single image"
    ctrl.points_layer.add([[48, 48]])
    settle(ctrl)
    assert ctrl.labels_layer.data.shape == (96, 96) and ctrl.labels_layer.data.any()


def test_rgb_image(open_widget, qtbot):
    g = make_timelapse(1, 96, 3)[0]
    rgb = np.stack([g, g // 2, g // 4], axis=-1).astype(np.uint16)
    _viewer, _widget, ctrl = _setup(open_widget, qtbot, rgb, rgb=True)
    ctrl.points_layer.add([[48, 48]])
    settle(ctrl)
    assert ctrl.labels_layer.data.shape == (96, 96) and ctrl.labels_layer.data.any()
