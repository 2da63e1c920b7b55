"""Label stacks written by the plugin and the CLI open as Labels layers (the reader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_sam2._napari.reader import get_reader
from napari_sam2._napari.writer import write_labels
from napari_sam2.export import LABELS_MARK, is_label_stack, write_ctc, write_label_stack

PLUGIN = "napari-sam2"


@pytest.fixture
def files(tmp_path):
    labels = np.zeros((3, 32, 32), np.uint32)
    labels[1, 4:9, 4:9] = 2
    stack = (np.random.default_rng(0).random((3, 32, 32)) * 1000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    cli = write_label_stack(tmp_path / "labels.tif", labels)  # what `segment --out` writes
    (plugin,) = write_labels(str(tmp_path / "saved_labels.tif"), labels, {})  # napari's writer
    return tmp_path / "stack.tif", cli, plugin, labels


def test_reader_function_knows_marked_stacks(files, tmp_path):
    stack, cli, plugin, labels = files
    for path in (cli, plugin):
        assert is_label_stack(path)
        reader = get_reader(str(path))
        ((data, meta, kind),) = reader(str(path))
        assert kind == "labels" and meta["name"] == Path(path).stem
        np.testing.assert_array_equal(data, labels)
    assert not is_label_stack(stack)
    ((data, _meta, kind),) = get_reader(str(stack))(str(stack))
    assert kind == "image" and data.shape == (3, 32, 32)
    assert get_reader(str(tmp_path / "prompts.json")) is None
    assert get_reader(str(tmp_path / "missing.tif")) is None
    write_ctc(tmp_path / "ctc", labels)
    assert is_label_stack(tmp_path / "ctc" / "mask001.tif")
    with tifffile.TiffFile(cli) as tif:
        assert tif.pages.first.software == LABELS_MARK


def test_viewer_opens_stack_as_image_and_labels_as_labels(files, make_napari_viewer):
    from napari.layers import Image, Labels

    stack, cli, plugin, labels = files
    viewer = make_napari_viewer()
    viewer.open(str(stack))  # napari's own reader: ours does not claim every TIFF
    viewer.open([str(cli), str(plugin)], plugin=PLUGIN)
    kinds = {layer.name: type(layer) for layer in viewer.layers}
    assert kinds == {"stack": Image, "labels": Labels, "saved_labels": Labels}
    np.testing.assert_array_equal(viewer.layers["labels"].data, labels)


def test_manifest_declares_the_reader():
    from npe2 import PluginManager

    pm = PluginManager.instance()
    readers = [r for r in pm.iter_compatible_readers(["labels.tif"]) if r.plugin_name == PLUGIN]
    assert readers and readers[0].command == "napari-sam2.get_reader"
    for name in ("stack.tif", "cells.tiff"):  # ordinary TIFFs: no reader choice dialog
        assert not [r for r in pm.iter_compatible_readers([name]) if r.plugin_name == PLUGIN]
