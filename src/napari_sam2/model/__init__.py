"""Pure PyTorch SAM 2 / 2.1: one module per part of the architecture.

No napari or Qt here. ``build_model(name)`` makes an untrained model of a
preset; ``napari_sam2.checkpoints.load_model`` builds one and loads its checkpoint.
"""

from __future__ import annotations

from napari_sam2.model.config import SAM2Config, get_config, list_presets
from napari_sam2.model.sam2 import ImageFeatures, MemoryPrompt, SAM2Model, SegmentOutput


def build_model(
    name: str | SAM2Config = "sam2.1_hiera_tiny", image_size: int | None = None
) -> SAM2Model:
    """An untrained model of preset ``name``, in eval mode.

    ``image_size`` builds a reduced configuration (smaller input) that takes
    the same weights: quicker, coarser masks.
    """
    cfg = get_config(name)
    if image_size is not None and image_size != cfg.image_size:
        cfg = cfg.with_image_size(image_size)
    return SAM2Model(cfg).eval()


__all__ = [
    "ImageFeatures",
    "MemoryPrompt",
    "SAM2Config",
    "SAM2Model",
    "SegmentOutput",
    "build_model",
    "get_config",
    "list_presets",
]
