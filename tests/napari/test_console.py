"""``segment_layers``: the widget's flow in one call, with one settings value."""

from __future__ import annotations

import numpy as np


def test_segment_layers_builds_the_settings_and_fills_the_labels(standin_checkpoint):
    from napari.components import ViewerModel

    from napari_sam2._napari.console import segment_layers
    from napari_sam2._napari.sample_data import make_timelapse
    from napari_sam2._napari.settings import PluginSettings

    viewer = ViewerModel()
    data = make_timelapse(3, 96, 2)
    viewer.add_image(data, name="cells")
    viewer.add_points([[0, 48, 48]], ndim=3, name="prompts")
    ctrl = segment_layers(viewer, "cells", points="prompts", checkpoint=str(standin_checkpoint),
                          device="cpu", image_size=256, fill_hole_area=8, non_overlap=True)
    assert ctrl.settings == PluginSettings(checkpoint=str(standin_checkpoint), device="cpu",
                                           image_size=256, fill_hole_area=8, non_overlap=True)
    assert ctrl.session.fill_hole_area == 8 and ctrl.session.non_overlap
    labels = viewer.layers["cells masks"].data
    assert labels.shape == data.shape and set(np.unique(labels)) <= {0, 1}
    assert ctrl.session.tracked_frames(1) == [0, 1, 2]  # propagated forward
