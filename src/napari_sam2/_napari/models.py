"""Loaded models, cached by what the user chose (preset, checkpoint, device, size, precision)."""

from __future__ import annotations

from dataclasses import dataclass

from napari_sam2.engine.device import pick_device

_CACHE: dict = {}


@dataclass(frozen=True)
class ModelSpec:
    """The model choice of the widget. ``checkpoint`` None: the weights cache
    (downloaded on first use); ``image_size`` below 1024 is a reduced,
    faster input size (lower quality; for quick tries and tests);
    ``bfloat16`` computes in bfloat16 on a CUDA GPU or a CPU with bfloat16
    units (faster, approximate) and is ignored elsewhere."""

    preset: str = "sam2.1_hiera_tiny"
    checkpoint: str | None = None
    device: str = "auto"
    image_size: int | None = None  # None: the preset's own input size
    bfloat16: bool = False

    def precision(self, device: str) -> str:
        from napari_sam2.checkpoints.loading import bfloat16_supported

        return "bfloat16" if self.bfloat16 and bfloat16_supported(device) else "float32"

    def key(self, device: str) -> tuple:
        return (self.preset, self.checkpoint, device, self.image_size, self.precision(device))


def is_loaded(spec: ModelSpec) -> bool:
    """Whether :func:`get_model` would return at once."""
    try:
        device = str(pick_device(spec.device))
    except ValueError:
        return False
    return spec.key(device) in _CACHE


class DownloadProgress:
    """A download's ``(done, total)`` callback shown as a bar in napari's activity dock.

    The bar appears only once bytes arrive (a cached checkpoint shows none).
    napari's ``progress`` may be updated from a worker thread.
    """

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar = None

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None:
            from napari.utils import progress

            self.bar = progress(total=total, desc=self.desc, unit="B", unit_scale=True,
                                unit_divisor=1024)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def get_model(spec: ModelSpec):
    """The model for ``spec``, loaded once and then reused (a download shows its
    progress in the viewer)."""
    from napari_sam2.checkpoints import load_model

    device = str(pick_device(spec.device))
    key = spec.key(device)
    if key not in _CACHE:
        _CACHE.clear()  # one model at a time: they are large
        bar = DownloadProgress(f"downloading {spec.preset}")
        try:
            _CACHE[key] = load_model(spec.preset, checkpoint=spec.checkpoint, device=device,
                                     image_size=spec.image_size, progress=bar,
                                     precision=spec.precision(device))
        finally:
            bar.close()
    return _CACHE[key]
