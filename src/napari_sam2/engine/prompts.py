"""Typed prompts on one frame, with the validation users need to hear about.

Coordinates are ``(x, y)`` pixels of the frame (x = column). Box corners
travel as two labelled points (2 = top-left, 3 = bottom-right) placed before
any clicks, as SAM 2 expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

BOX_LABELS = (2, 3)


@dataclass(frozen=True)
class PointPrompt:
    """Clicks (and optionally a box) on one frame for one object."""

    coords: np.ndarray  # (N, 2) float32 frame pixels
    labels: np.ndarray  # (N,) int32: 1 positive, 0 negative, 2/3 box corners

    @property
    def num_points(self) -> int:
        return len(self.labels)

    @property
    def has_box(self) -> bool:
        return bool(np.isin(self.labels, BOX_LABELS).any())

    def extended(self, other: PointPrompt) -> PointPrompt:
        return PointPrompt(
            np.concatenate([self.coords, other.coords]), np.concatenate([self.labels, other.labels])
        )

    def to_model(
        self, frame_shape: tuple[int, int], image_size: int, device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Coordinates scaled to the model input, ``(1, N, 2)`` and labels ``(1, N)``."""
        h, w = frame_shape
        scale = np.array([image_size / w, image_size / h], dtype=np.float32)
        coords = torch.from_numpy(self.coords * scale).to(device)[None]
        return coords, torch.from_numpy(self.labels).to(device)[None]


@dataclass(frozen=True)
class MaskPrompt:
    """A mask on one frame; all False declares the object absent there."""

    mask: np.ndarray  # (H, W) bool

    def to_model(self, image_size: int, device) -> torch.Tensor:
        """``(1, 1, S, S)`` float mask, resized as the reference does (antialiased, >= 0.5)."""
        m = torch.from_numpy(np.ascontiguousarray(self.mask))
        m = m.to(device=device, dtype=torch.float32)[None, None]
        if m.shape[-2:] != (image_size, image_size):
            m = F.interpolate(
                m, size=(image_size, image_size), mode="bilinear", align_corners=False,
                antialias=True,
            )
            m = (m >= 0.5).float()
        return m


def check_frame_index(frame, num_frames: int) -> int:
    """``frame`` as an int in ``0..num_frames-1``, else a one-line ``ValueError``."""
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
        raise ValueError(f"frame index must be an integer, got {frame!r}")
    if not 0 <= frame < num_frames:
        raise ValueError(
            f"frame {frame} is out of range: the stack has {num_frames} frames "
            f"(0..{num_frames - 1})"
        )
    return int(frame)


def check_obj_id(obj_id) -> int:
    """``obj_id`` as a non-negative int, else a one-line ``ValueError``."""
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)) or obj_id < 0:
        raise ValueError(f"object id must be a non-negative integer, got {obj_id!r}")
    return int(obj_id)


def _check_inside(coords: np.ndarray, frame_shape: tuple[int, int], what: str) -> None:
    h, w = frame_shape
    outside = (coords[:, 0] < 0) | (coords[:, 0] > w) | (coords[:, 1] < 0) | (coords[:, 1] > h)
    if outside.any():
        x, y = coords[outside][0]
        raise ValueError(
            f"{what} ({x:g}, {y:g}) lies outside the frame (width {w}, height {h}); "
            "coordinates are (x, y) = (column, row) pixels"
        )


def _numbers(value, what: str) -> np.ndarray:
    """``value`` as a float64 array, or a one-line ValueError naming ``what``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers, got {_describe(value)}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return arr


def _describe(value) -> str:
    """A short, repr-free description of a bad argument."""
    if isinstance(value, (str, bytes)):
        return f"the text {value[:20]!r}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"an array of shape {tuple(shape)} and dtype {getattr(value, 'dtype', '?')}"
    return f"a {type(value).__name__}"


def make_points(points, labels, frame_shape: tuple[int, int]) -> PointPrompt:
    """Validate clicks: ``points (N, 2)`` as (x, y), ``labels (N,)`` of 0/1."""
    coords = _numbers(points, "points")
    if coords.ndim == 1 and coords.size == 2:
        coords = coords[None]
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) == 0:
        raise ValueError(
            f"points must have shape (N, 2) as (x, y) pixels, got shape {coords.shape}"
        )
    labs = _numbers(labels, "labels").reshape(-1)
    if len(labs) != len(coords):
        raise ValueError(f"got {len(coords)} points but {len(labs)} labels")
    if not np.isin(labs, (0, 1)).all():
        bad = sorted({f"{v:g}" for v in labs[~np.isin(labs, (0, 1))].tolist()})
        raise ValueError(f"labels must be 1 (positive) or 0 (negative), got {', '.join(bad)}")
    _check_inside(coords, frame_shape, "point")
    return PointPrompt(coords.astype(np.float32), labs.astype(np.int32))


def make_box(box, frame_shape: tuple[int, int]) -> PointPrompt:
    """Validate a box ``(x0, y0, x1, y1)``; corners are sorted so x0 <= x1, y0 <= y1."""
    b = _numbers(box, "box coordinates").reshape(-1)
    if b.size != 4:
        raise ValueError(f"box must be 4 numbers (x0, y0, x1, y1), got {b.size}")
    x0, x1 = sorted((b[0], b[2]))
    y0, y1 = sorted((b[1], b[3]))
    coords = np.array([[x0, y0], [x1, y1]])
    _check_inside(coords, frame_shape, "box corner")
    return PointPrompt(coords.astype(np.float32), np.array(BOX_LABELS, dtype=np.int32))


def make_mask(mask, frame_shape: tuple[int, int]) -> MaskPrompt:
    """Validate a mask of the frame's shape: bool, or numbers where > 0 is the object."""
    try:
        m = np.asarray(mask)
    except (TypeError, ValueError):
        raise ValueError(f"mask must be an array, got {_describe(mask)}") from None
    if m.shape != tuple(frame_shape):
        raise ValueError(
            f"mask has shape {m.shape}, expected the frame's shape {tuple(frame_shape)}"
        )
    if m.dtype.kind not in "biuf":
        raise ValueError(f"mask must be bool or numbers, got dtype {m.dtype}")
    if m.dtype.kind == "f" and not np.isfinite(m).all():
        raise ValueError("mask contains NaN or infinite values")
    return MaskPrompt(m if m.dtype == bool else m > 0)
