"""How sure the model is, frame by frame: each object's object score and predicted IoU.

The decoder answers every frame with an object-score logit (is the object
there?) and a predicted IoU of the mask it chose (how good does it think the
mask is?). :func:`confidence_tracks` reads both for every frame where an object has
a mask, so a caller can show where tracking drifted: that is where the user
should click next. It reads only what the memory bank keeps in RAM and takes
no lock, so a GUI may ask while a propagation runs in another thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["ConfidenceTrack", "LowConfidence", "confidence_tracks"]


class _Scored(Protocol):
    """What the query needs of a session: its bank of memories."""

    @property
    def bank(self): ...


@dataclass(frozen=True)
class LowConfidence:
    """When a frame counts as unsure.

    The object is shown (score logit > 0) with a predicted IoU below
    ``min_iou``, or its score logit is within ``score_margin`` of the
    present/absent boundary (the model can hardly tell).
    """

    min_iou: float = 0.7
    score_margin: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_iou <= 1.0:
            raise ValueError(f"min_iou must be in 0..1, got {self.min_iou}")
        if self.score_margin < 0:
            raise ValueError(f"score_margin must be >= 0, got {self.score_margin}")


@dataclass(frozen=True)
class ConfidenceTrack:
    """One object's confidence along the frames where it has a mask (sorted)."""

    obj_id: int
    frames: np.ndarray  # (F,) int
    object_score: np.ndarray  # (F,) float: logits; > 0 means "present"
    iou: np.ndarray  # (F,) float: predicted IoU, NaN where unknown (a mask prompt)
    prompted: np.ndarray  # (F,) bool: the user prompted this frame

    @property
    def presence(self) -> np.ndarray:
        """The object score as a probability (sigmoid of the logit)."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.object_score, -50.0, 50.0)))

    def low_mask(self, rule: LowConfidence | None = None) -> np.ndarray:
        """``(F,)`` bool: frames the model is unsure about (prompted frames never)."""
        rule = rule or LowConfidence()
        shown = self.object_score > 0
        with np.errstate(invalid="ignore"):
            weak = shown & (self.iou < rule.min_iou)
        unsure = np.abs(self.object_score) < rule.score_margin
        return (weak | unsure) & ~self.prompted

    def low_frames(self, rule: LowConfidence | None = None) -> list[int]:
        """The frames :meth:`low_mask` marks, sorted."""
        return self.frames[self.low_mask(rule)].tolist()


def confidence_tracks(session: _Scored, obj_ids=None) -> dict[int, ConfidenceTrack]:
    """Each object's :class:`ConfidenceTrack` (all objects, or those of ``obj_ids``)."""
    bank = session.bank
    ids = list(bank.obj_ids) if obj_ids is None else [int(o) for o in obj_ids]
    tracks = {}
    for obj_id in ids:
        table = bank.scores(obj_id)
        frames = sorted(table)
        rows = [table[f] for f in frames]
        tracks[obj_id] = ConfidenceTrack(
            obj_id,
            np.asarray(frames, dtype=np.int64),
            np.asarray([r[0] for r in rows], dtype=np.float64),
            np.asarray([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64),
            np.asarray([r[2] for r in rows], dtype=bool),
        )
    return tracks
