from __future__ import annotations

import numpy as np

from napari_sam2._napari.sample_data import make_timelapse


def test_open_widget_from_manifest(open_widget):
    viewer, widget = open_widget(make_timelapse(5, 128, 3))
    assert widget.image.layer() is viewer.layers["cells"]
    assert widget.setup_layers()
    assert viewer.layers["cells masks"].data.shape == (5, 128, 128)
    assert "SAM2 points" in viewer.layers
