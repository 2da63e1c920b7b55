"""Typed results returned by the image predictor and the video session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from napari_sam2.engine.postprocess import apply_non_overlap
from napari_sam2.model.sam2 import NO_OBJ_SCORE

if TYPE_CHECKING:  # pragma: no cover
    from napari_sam2.engine.memory_types import Candidates, FrameMemory


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
    # (N,) float32 the decoder's predicted IoU of each mask; NaN where none (mask prompts)
    ious: np.ndarray | None = None

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


def upsample_logits(logits: torch.Tensor, frame_shape: tuple[int, int]) -> np.ndarray:
    """``(N, 1, h, w)`` low-resolution logits -> ``(N, H, W)`` at the frame's size."""
    h, w = frame_shape
    if logits.shape[-2:] != (h, w):
        logits = F.interpolate(logits.float(), size=(h, w), mode="bilinear", align_corners=False)
    return logits[:, 0].numpy()


def frame_result(
    frame: int,
    obj_ids: Sequence[int],
    memories: Sequence[FrameMemory | None],
    side: int,
    frame_shape: tuple[int, int],
    non_overlap: bool = False,
) -> FrameResult:
    """The result of a frame from each object's memory there (None: the object has none)."""
    logits = torch.full((len(obj_ids), 1, side, side), NO_OBJ_SCORE)
    scores = torch.full((len(obj_ids),), NO_OBJ_SCORE)
    ious = torch.full((len(obj_ids),), float("nan"))
    for i, mem in enumerate(memories):
        if mem is not None:
            logits[i] = mem.mask_logits[0].float().cpu()
            scores[i] = mem.object_score.reshape(()).float().cpu()
            if mem.iou is not None:
                ious[i] = float(mem.iou)
    if non_overlap and len(obj_ids) > 1:
        logits = apply_non_overlap(logits)
    return FrameResult(
        frame=frame,
        obj_ids=tuple(obj_ids),
        low_res_logits=logits[:, 0].numpy(),
        object_score_logits=scores.numpy(),
        masks=upsample_logits(logits, frame_shape) > 0,
        ious=ious.numpy(),
    )


def candidate_prediction(cands: Candidates, frame_shape: tuple[int, int]) -> ImagePrediction:
    """The candidate masks of a click, at the frame's size."""
    logits = cands.mask_logits[:, None]
    return ImagePrediction(
        low_res_logits=logits[:, 0].float().numpy(),
        iou=cands.ious.float().numpy(),
        object_score_logits=cands.object_score.reshape(-1).float().numpy(),
        masks=upsample_logits(logits, frame_shape) > 0,
    )
