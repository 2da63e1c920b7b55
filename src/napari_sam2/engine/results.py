"""Typed results returned by the image predictor and the video session."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameResult:
    """Masks of some objects on one frame.

    ``low_res_logits`` are the model's ``(N, 256, 256)`` mask logits (for the
    default 1024 input); ``masks`` are the logits upsampled to the frame's
    own size and thresholded at 0.
    """

    frame: int
    obj_ids: tuple[int, ...]
    low_res_logits: np.ndarray  # (N, h, w) float32
    object_score_logits: np.ndarray  # (N,) float32
    masks: np.ndarray  # (N, H, W) bool

    def mask_of(self, obj_id: int) -> np.ndarray:
        """The ``(H, W)`` bool mask of one object."""
        return self.masks[self.obj_ids.index(obj_id)]

    def to_labels(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Paint the masks into one label image (object id per pixel; later ids win)."""
        shape = shape or self.masks.shape[1:]
        labels = np.zeros(shape, dtype=np.uint32)
        for obj_id, mask in zip(self.obj_ids, self.masks):
            labels[mask] = obj_id
        return labels


@dataclass(frozen=True)
class ImagePrediction:
    """Candidate masks for one prompt on one image (``C`` candidates)."""

    low_res_logits: np.ndarray  # (C, h, w) float32
    iou: np.ndarray  # (C,) float32
    object_score_logits: np.ndarray  # (1,) float32
    masks: np.ndarray  # (C, H, W) bool
