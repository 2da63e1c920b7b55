"""Fixtures for the napari plugin tests: stand-in weights, the manifest, a widget."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("napari_sam2") is None:  # running from a source checkout
    sys.path.insert(0, str(Path(__file__).parents[2] / "src"))

PLUGIN = "napari-sam2"
WIDGET = "Segment Anything 2"


@pytest.fixture(scope="session")
def standin_checkpoint(tmp_path_factory) -> Path:
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    return write_standin_checkpoint("sam2.1_hiera_tiny", tmp_path_factory.mktemp("w") / "t.pt")


@pytest.fixture(scope="session", autouse=True)
def _register_manifest():
    """Register our napari.yaml with npe2 when the package is not pip-installed."""
    from npe2 import PluginManager, PluginManifest

    import napari_sam2

    pm = PluginManager.instance()
    if PLUGIN not in pm:
        pm.register(PluginManifest.from_file(Path(napari_sam2.__file__).parent / "napari.yaml"))
    yield


@pytest.fixture
def open_widget(make_napari_viewer, standin_checkpoint):
    """``open_widget(data=None, **add_image_kwargs) -> (viewer, widget)``: a viewer with
    an image and the dock widget opened from the manifest, set to fast test settings."""

    def _open(data=None, **kwargs):
        viewer = make_napari_viewer()
        if data is not None:
            viewer.add_image(data, **{"name": "cells", **kwargs})
        _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
        s = widget.settings
        s.checkpoint.setText(str(standin_checkpoint))
        s.device.setCurrentText("cpu")
        s.advanced.setChecked(True)
        s.image_size.setCurrentText("256")
        widget.controller.threaded = True
        widget._sync_controller()
        _bias_towards_objects(widget.controller.model_spec)
        return viewer, widget

    return _open


def _bias_towards_objects(spec) -> None:
    """Stand-in weights give object scores near 0, so a click's mask is empty
    or not by chance. Shift the object-score head so objects are "present";
    the masks themselves stay those of the stand-in weights."""
    import torch

    from napari_sam2._napari.models import get_model

    model = get_model(spec)  # the cached instance the controller will use
    if getattr(model, "_test_biased", False):
        return
    head = model.sam_mask_decoder.pred_obj_score_head
    last = [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias += 2.0
    model._test_biased = True


@pytest.fixture
def notifications(monkeypatch):
    """Messages sent through napari_sam2's notify module (also shown by napari)."""
    from napari_sam2._napari import notify

    seen: list[tuple[str, str]] = []
    for level in ("error", "warning", "info"):
        original = getattr(notify, level)

        def record(message, _level=level, _orig=original):
            seen.append((_level, message))
            _orig(message)

        monkeypatch.setattr(notify, level, record)
    return seen
