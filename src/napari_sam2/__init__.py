"""napari-sam2: Segment Anything Model 2 for microscopy stacks in napari.

The public API is importable from here; heavy modules (torch, napari) load
only when a name is first used, so napari's plugin discovery stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it (checked by tests/test_layering.py). Shipped
# modules import from those modules directly, never from this table.
_EXPORTS = {
    "load_model": "napari_sam2.checkpoints.loading",
    "set_precision": "napari_sam2.checkpoints.loading",
    "build_model": "napari_sam2.model",
    "list_presets": "napari_sam2.model.config",
    "get_config": "napari_sam2.model.config",
    "ImagePredictor": "napari_sam2.engine.image_predictor",
    "AutoMaskGenerator": "napari_sam2.engine.automask",
    "AutoMaskSettings": "napari_sam2.engine.automask",
    "VideoSession": "napari_sam2.engine.session",
    "MemoryTree": "napari_sam2.engine.memory_tree",
    "FrameResult": "napari_sam2.engine.results",
    "confidence_tracks": "napari_sam2.engine.confidence",
    "plan_retrack": "napari_sam2.engine.retrack",
    "run_retrack": "napari_sam2.engine.retrack",
    "segment_layers": "napari_sam2._napari.console",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from napari_sam2.checkpoints.loading import load_model, set_precision
    from napari_sam2.engine.automask import AutoMaskGenerator, AutoMaskSettings
    from napari_sam2.engine.confidence import confidence_tracks
    from napari_sam2.engine.image_predictor import ImagePredictor
    from napari_sam2.engine.memory_tree import MemoryTree
    from napari_sam2.engine.results import FrameResult
    from napari_sam2.engine.retrack import plan_retrack, run_retrack
    from napari_sam2.engine.session import VideoSession
    from napari_sam2.model import build_model
    from napari_sam2.model.config import get_config, list_presets


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        # Not cached here: the defining module stays the one source (monkeypatch-friendly).
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'napari_sam2' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(_EXPORTS) | {"__version__"})
