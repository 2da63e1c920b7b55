"""One raw frame -> the image encoder's input tensor.

SAM 2 was trained on 8-bit RGB photos scaled by 1/255 and normalised with
ImageNet statistics. Microscopy frames are often 12/16-bit, float or
single-channel, so non-uint8 frames are first mapped to [0, 1] by robust
percentiles of that frame (see :class:`Normalization`). uint8 frames of the
model's size follow the reference formula bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Normalization",
    "intensity_limits",
    "normalize_frame",
    "to_model_input",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MODES = ("auto", "percentile", "minmax", "none")
# Percentiles are estimated on a strided subsample of about this many pixels
# (per channel): 2048x2048 becomes 512x512, which moves a 0.5 / 99.8 percentile
# by far less than one display grey level but is ~15x faster.
PERCENTILE_SAMPLES = 1 << 18


@dataclass(frozen=True)
class Normalization:
    """How raw intensities become [0, 1] before the ImageNet normalisation.

    ``mode``:
      * ``"auto"``: uint8 -> ``x / 255`` exactly as the reference; any other
        dtype (uint16, int, float, bool) -> ``"percentile"``;
      * ``"percentile"``: ``low_percentile``/``high_percentile`` of the frame
        map to 0/1, values outside are clipped;
      * ``"minmax"``: the frame's min/max map to 0/1;
      * ``"none"``: the frame is already in [0, 1]; used as is.

    ``limits`` (e.g. napari contrast limits) replace the percentiles or the
    min/max in every mode but ``"none"``, uint8 included.
    """

    low_percentile: float = 0.5
    high_percentile: float = 99.8
    mode: str = "auto"
    limits: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.mode, str) or self.mode not in MODES:
            raise ValueError(f"unknown normalization mode {self.mode!r}; expected one of {MODES}")
        low = _real(self.low_percentile, "low_percentile")
        high = _real(self.high_percentile, "high_percentile")
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(
                f"need 0 <= low_percentile < high_percentile <= 100, got {low:g}, {high:g}"
            )
        if self.limits is not None:
            limits = self.limits
            pair = hasattr(limits, "__len__") and not isinstance(limits, (str, bytes))
            if not pair or len(limits) != 2:
                raise ValueError("limits must be a pair (low, high) of finite numbers")
            lo, hi = _real(limits[0], "limits"), _real(limits[1], "limits")
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"limits must be finite with low < high, got ({lo:g}, {hi:g})")


def _real(value, what: str) -> float:
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {type(value).__name__}") from None


def _name(frame: int | None) -> str:
    return "frame" if frame is None else f"frame {frame}"


def _subsample(image: np.ndarray) -> np.ndarray:
    """A strided view with about PERCENTILE_SAMPLES pixels (no copy)."""
    h, w = image.shape[:2]
    step = max(1, math.ceil(math.sqrt(h * w / PERCENTILE_SAMPLES)))
    return image[::step, ::step]


def intensity_limits(
    image: np.ndarray, normalization: Normalization = Normalization()
) -> tuple[float, float] | None:
    """The ``(low, high)`` raw values that map to 0 and 1, or None for no scaling.

    RGB frames use one pair for all channels so colours keep their balance.
    If the percentiles coincide (a sparse image: mostly background, a few
    bright spots) the frame's min/max are used instead.
    """
    norm = normalization
    if norm.mode == "none":
        return None
    if norm.limits is not None:
        return float(norm.limits[0]), float(norm.limits[1])
    if norm.mode == "auto" and image.dtype == np.uint8:
        return 0.0, 255.0
    if image.dtype == np.bool_:
        return 0.0, 1.0
    if norm.mode in ("auto", "percentile"):
        sample = _subsample(image)
        if sample.dtype == np.float16:
            sample = sample.astype(np.float32)  # float16 interpolation overflows near 65504
        # Interpolating between values near the float64 limits overflows: then min/max.
        with np.errstate(over="ignore", invalid="ignore"):
            lo, hi = np.percentile(sample, (norm.low_percentile, norm.high_percentile))
        if hi > lo and math.isfinite(lo) and math.isfinite(hi):
            return float(lo), float(hi)
    return float(image.min()), float(image.max())


def normalize_frame(
    image: np.ndarray, normalization: Normalization = Normalization(), *, frame: int | None = None
) -> np.ndarray:
    """``image`` (H, W) or (H, W, C) mapped to float32 [0, 1] (clipped), same shape.

    Raises ValueError for NaN or infinite values. A constant frame becomes
    all zeros rather than dividing by zero.
    """
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        bad = int(np.count_nonzero(~np.isfinite(image)))
        raise ValueError(
            f"{_name(frame)} contains NaN or infinite values ({bad} pixels); "
            "replace them (e.g. np.nan_to_num) before segmenting"
        )
    if image.dtype.kind not in "biuf":
        raise ValueError(f"{_name(frame)} has unsupported dtype {image.dtype}")
    limits = intensity_limits(image, normalization)
    if limits is None:  # already [0, 1]: clip strays (and float64 beyond float32's range)
        return np.clip(image, 0, 1).astype(np.float32)
    lo, hi = limits
    if lo == 0.0 and hi == 255.0 and image.dtype == np.uint8:
        # The reference: float32(x) / 255 (torchvision ToTensor), kept bit-exact.
        return image.astype(np.float32) / np.float32(255.0)
    if hi <= lo:  # constant frame
        return np.zeros(image.shape, np.float32)
    # float32 for small dtypes (fast); float64 for wide ones and for extreme
    # float ranges, where x - lo or hi - lo would overflow or vanish in float32.
    wide = image.dtype.itemsize > 4 or max(abs(lo), abs(hi)) > 1e37 or hi - lo < 1e-30
    work = np.float64 if wide else np.float32
    if not math.isfinite(hi - lo):  # a range wider than float64: halve everything
        image, lo, hi = image.astype(work) / 2, lo / 2, hi / 2
    # Far outside a tiny range the quotient may overflow to +-inf: clipped to 0 or 1.
    with np.errstate(over="ignore"):
        out = (image.astype(work) - work(lo)) / work(hi - lo)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


def _as_hwc(image: np.ndarray, frame: int | None) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]  # drop alpha
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3):
        return image
    raise ValueError(f"{_name(frame)} has shape {image.shape}; expected (H, W) or (H, W, 3)")


def to_model_input(
    image: np.ndarray,
    image_size: int,
    normalization: Normalization = Normalization(),
    *,
    frame: int | None = None,
    device: torch.device | str | None = None,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> torch.Tensor:
    """The ``(1, 3, image_size, image_size)`` float32 encoder input of one frame.

    ``image`` is ``(H, W)`` grey (replicated to 3 channels) or ``(H, W, 3)``
    RGB in its raw dtype; ``frame`` is only used in error messages; the
    resize runs on ``device`` (the model's: a GPU does it in microseconds). Steps:
    intensities to [0, 1] (:func:`normalize_frame`), resize with bilinear
    antialiasing (as torchvision's ``Resize`` on a float tensor; skipped when
    already square of ``image_size``), then ``(x - mean) / std``.
    """
    image = _as_hwc(np.asarray(image), frame)
    if image.size == 0:
        raise ValueError(f"{_name(frame)} is empty (shape {image.shape})")
    x = torch.from_numpy(np.ascontiguousarray(normalize_frame(image, normalization, frame=frame)))
    x = (x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]).to(device)
    if tuple(x.shape[-2:]) != (image_size, image_size):
        # Resize grey frames before replicating: a third of the work.
        x = F.interpolate(
            x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
        )
    x = x.expand(1, 3, image_size, image_size)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device)[None, :, None, None]
    std_t = torch.tensor(std, dtype=torch.float32, device=x.device)[None, :, None, None]
    # Subtract then divide (not multiply by 1/std) to match the reference bit for bit.
    return ((x - mean_t) / std_t).contiguous()
