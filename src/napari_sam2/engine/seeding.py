"""Seeds from label images: every label of a frame becomes an object with a mask prompt.

A *seed source* is anything that gives an instance label image for a frame:
a callable ``frame -> (H, W) labels`` or any object with
``.label_image(frame)`` (the automatic mask generator, a :class:`LabelStack`
over a Cellpose/StarDist output, a napari Labels layer's data). Several
frames may be seeded; the same label id on two frames is the same object
when ``ids="labels"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "LabelSource",
    "LabelStack",
    "SeedSource",
    "check_label_image",
    "label_image_of",
    "label_masks",
    "seed_from_labels",
]


@runtime_checkable
class LabelSource(Protocol):
    """Anything with ``label_image(frame) -> (H, W)`` instance labels (0 = background)."""

    def label_image(self, frame: int) -> np.ndarray: ...


SeedSource = Callable[[int], np.ndarray] | LabelSource


class LabelStack:
    """A label stack ``(T, H, W)`` (or one ``(H, W)`` image for every frame) as a seed source."""

    def __init__(self, labels, frames: tuple[int, ...] | None = None) -> None:
        arr = np.asarray(labels)
        if arr.ndim not in (2, 3):
            raise ValueError(f"seed labels must be (H, W) or (T, H, W), got shape {arr.shape}")
        if arr.dtype.kind not in "biu":
            raise ValueError(f"seed labels must be integers, got dtype {arr.dtype}")
        self.labels = arr
        self.frames = frames  # frames that have seeds (None: every frame of a stack)

    def has(self, frame: int) -> bool:
        """Whether ``frame`` has seeds (a 2-D image seeds every frame asked for)."""
        if self.frames is not None:
            return frame in self.frames
        return self.labels.ndim == 2 or 0 <= frame < self.labels.shape[0]

    def label_image(self, frame: int) -> np.ndarray:
        if self.labels.ndim == 2:
            return self.labels
        if not 0 <= frame < self.labels.shape[0]:
            raise ValueError(f"the seed labels have {self.labels.shape[0]} frames, "
                             f"no frame {frame}")
        return self.labels[frame]


def check_label_image(labels, frame_shape: tuple[int, int]) -> np.ndarray:
    """``labels`` as a non-negative integer ``(H, W)`` array of the frame's shape."""
    arr = np.asarray(labels)
    if arr.shape != tuple(frame_shape):
        raise ValueError(f"label image has shape {arr.shape}, expected the frame's shape "
                         f"{tuple(frame_shape)}")
    if arr.dtype.kind == "b":
        return arr.astype(np.uint8)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"label image must hold integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError("label image holds negative labels")
    return arr


def label_image_of(source: SeedSource, frame: int) -> np.ndarray:
    """The label image ``source`` gives for ``frame`` (``.label_image`` or a call)."""
    if isinstance(source, LabelSource):
        return np.asarray(source.label_image(frame))
    if callable(source):
        return np.asarray(source(frame))
    raise ValueError("seeds must be a callable frame -> labels or have .label_image(frame), "
                     f"got a {type(source).__name__}")


def label_masks(labels: np.ndarray, min_area: int = 1) -> dict[int, np.ndarray]:
    """``{label: (H, W) bool mask}`` of every label with at least ``min_area`` pixels."""
    out: dict[int, np.ndarray] = {}
    arr = np.asarray(labels)
    for i, box in enumerate(ndi.find_objects(arr.astype(np.int64, copy=False)), 1):
        if box is None:
            continue
        if np.count_nonzero(arr[box] == i) < max(min_area, 1):
            continue
        mask = np.zeros(arr.shape, bool)
        mask[box] = arr[box] == i
        out[i] = mask
    return out


def seed_from_labels(session, frame: int, labels, *, ids: Literal["labels", "new"] = "labels",
                     min_area: int = 1) -> dict[int, int]:
    """Give ``session`` one mask prompt on ``frame`` per label of ``labels``.

    ``ids="labels"``: a label's value is its object id (the same id on two
    seeded frames is one object, seeded twice); ``"new"``: fresh ids above
    every object already in the session. Labels smaller than ``min_area``
    pixels are skipped. Returns ``{label: object id}``.
    """
    if ids not in ("labels", "new"):
        raise ValueError(f"ids must be 'labels' or 'new', got {ids!r}")
    arr = check_label_image(labels, session.frame_shape)
    masks = label_masks(arr, min_area)
    next_id = max(session.obj_ids, default=0) + 1
    mapping: dict[int, int] = {}
    for label, mask in masks.items():
        if ids == "labels":
            obj_id = label
        else:
            obj_id, next_id = next_id, next_id + 1
        session.add_mask(frame, obj_id, mask)
        mapping[label] = obj_id
    return mapping
