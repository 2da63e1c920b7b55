"""The plugin's settings as one frozen value (Qt-free).

The widget builds a :class:`PluginSettings` from its controls and hands it to
the controller in one call (``controller.apply_settings``); scripts build
one directly or change one with ``dataclasses.replace``. One value instead of
a dozen attributes set one by one means the controller never sees half an
update.
"""

from __future__ import annotations

from dataclasses import dataclass

from napari_sam2._napari.models import ModelSpec
from napari_sam2.engine.memory_tree import MemoryTree

__all__ = ["PluginSettings"]


@dataclass(frozen=True)
class PluginSettings:
    """Model choice (preset, checkpoint, device, input size, precision) and how
    masks are post-processed and written.

    ``checkpoint`` None: the weights cache (downloaded on first use);
    ``image_size`` None is the model's own, smaller is faster and coarser;
    ``bfloat16`` is used on a CUDA GPU or a CPU with bfloat16 units only;
    ``overwrite``: masks may replace other objects' labels;
    ``fill_hole_area``, ``non_overlap`` and ``memory_tree`` (long-stack mode)
    as in ``VideoSession``.
    """

    preset: str = "sam2.1_hiera_tiny"
    checkpoint: str | None = None
    device: str = "auto"
    image_size: int | None = None  # None: the model's own (1024; the demo model 256)
    bfloat16: bool = False
    overwrite: bool = False
    fill_hole_area: int = 0
    non_overlap: bool = False
    memory_tree: MemoryTree | None = None

    def __post_init__(self) -> None:
        if self.image_size is not None and (self.image_size <= 0 or self.image_size % 32):
            raise ValueError(f"image size must be a positive multiple of 32, got {self.image_size}")
        if self.fill_hole_area < 0:
            raise ValueError(f"fill holes area must be >= 0, got {self.fill_hole_area}")
        if self.memory_tree is not None and not isinstance(self.memory_tree, MemoryTree):
            raise ValueError(f"memory_tree must be a MemoryTree or None, got {self.memory_tree!r}")

    @property
    def model_spec(self) -> ModelSpec:
        """The part that decides which model is loaded (the key of the model cache)."""
        return ModelSpec(self.preset, self.checkpoint, self.device, self.image_size, self.bfloat16)
