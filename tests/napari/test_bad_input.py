"""Bad input becomes a napari notification, never an exception in the console."""

from __future__ import annotations

import numpy as np
from tests.napari.gui_wait import settle

from napari_sam2._napari.sample_data import make_timelapse


def _errors(notes):
    return [m for level, m in notes if level == "error"]


def test_no_image_layer(open_widget, notifications):
    _viewer, widget = open_widget(None)
    assert not widget.setup_layers()
    assert any("image layer" in m for m in _errors(notifications))
    widget.propagation.forward.click()  # nothing to propagate: a message, no traceback
    assert len(_errors(notifications)) == 2


def test_labels_layer_of_wrong_shape(open_widget, notifications):
    viewer, widget = open_widget(make_timelapse(3, 96, 2))
    wrong = viewer.add_labels(np.zeros((3, 50, 50), np.uint32), name="wrong")
    widget.labels.set_layer(wrong)
    assert not widget.setup_layers()
    assert any("has shape (3, 50, 50)" in m for m in _errors(notifications))


def test_prompt_outside_the_image_is_removed_with_a_message(open_widget, notifications):
    _viewer, widget = open_widget(make_timelapse(3, 96, 2))
    assert widget.setup_layers()
    widget.controller.points_layer.add([[1, 48, 500]])  # far right of a 96-px image
    settle(widget.controller)
    assert any("outside the image" in m for level, m in notifications if level == "warning")
    assert len(widget.controller.points_layer.data) == 0  # the stray point is gone
    assert not widget.controller.labels_layer.data.any()
    widget.controller.points_layer.add([[2, 48, 48]])  # the session is still usable
    settle(widget.controller)
    assert widget.controller.labels_layer.data[2].any()


def test_unsupported_dtype(open_widget, notifications):
    viewer, widget = open_widget(None)
    viewer.add_image(np.zeros((3, 32, 32), bool), name="bool")
    assert not widget.setup_layers()
    assert any("unsupported pixel type" in m for m in _errors(notifications))


def test_propagate_without_prompts(open_widget, notifications):
    _viewer, widget = open_widget(make_timelapse(3, 96, 2))
    assert widget.setup_layers()
    widget.propagation.both.click()
    assert any("no prompts" in m or "no objects" in m for m in _errors(notifications))
