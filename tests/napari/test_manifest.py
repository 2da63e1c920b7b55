"""The npe2 manifest: widget (also in Layers > Segment), sample data, writer; the console helper."""

from __future__ import annotations

import numpy as np

from napari_sam2._napari.sample_data import make_timelapse


def test_open_widget_from_manifest(open_widget):
    viewer, widget = open_widget(make_timelapse(5, 128, 3))
    assert widget.image.layer() is viewer.layers["cells"]
    assert widget.setup_layers()
    assert viewer.layers["cells masks"].data.shape == (5, 128, 128)
    assert "cells points" in viewer.layers and "cells boxes" in viewer.layers


def test_widget_in_layers_segment_menu(make_napari_viewer):
    from napari._app_model import get_app_model

    make_napari_viewer()
    items = get_app_model().menus.get_menu("napari/layers/segment")
    assert any("napari-sam2" in str(getattr(i, "command", i)) for i in items)


def test_sample_data_from_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sam2", "cells_timelapse")
    viewer.open_sample("napari-sam2", "cells_zstack")
    t, z = viewer.layers["cells (2D+t)"], viewer.layers["cells (3D)"]
    assert t.data.dtype == np.uint16 and t.data.ndim == 3 and z.data.ndim == 3


def test_labels_writer_from_manifest(make_napari_viewer, tmp_path):
    import tifffile

    viewer = make_napari_viewer()
    data = np.zeros((2, 16, 16), np.uint32)
    data[1, 2:5, 2:5] = 3
    viewer.add_labels(data, name="masks")
    (path,) = viewer.layers.save(str(tmp_path / "masks.tif"), selected=False, plugin="napari-sam2")
    np.testing.assert_array_equal(tifffile.imread(path), data)


def test_console_helper_segments_and_propagates(make_napari_viewer, standin_checkpoint):
    import napari_sam2

    viewer = make_napari_viewer()
    viewer.add_image(make_timelapse(3, 96, 3), name="cells")
    viewer.add_points([[0, 48, 48]], ndim=3, name="prompts")
    ctrl = napari_sam2.segment_layers(
        viewer,
        "cells",
        points="prompts",
        checkpoint=str(standin_checkpoint),
        device="cpu",
        image_size=256,
        propagate="forward",
    )
    labels = viewer.layers["cells masks"]
    assert labels.data.shape == (3, 96, 96)
    assert ctrl.session.num_frames == 3 and ctrl.session.obj_ids == [1]
    assert len(ctrl.history) == 2  # click + run, each one undo step


def test_top_level_manifest_is_the_packaged_one():
    """napari.yaml at the repository root is the manifest the package ships, and valid."""
    from pathlib import Path

    from npe2 import PluginManifest

    import napari_sam2

    root = Path(__file__).resolve().parents[2] / "napari.yaml"
    packaged = Path(napari_sam2.__file__).parent / "napari.yaml"
    assert root.read_text() == packaged.read_text()
    manifest = PluginManifest.from_file(packaged)
    commands = {c.id for c in manifest.contributions.commands}
    assert {"napari-sam2.make_widget", "napari-sam2.write_labels"} <= commands
