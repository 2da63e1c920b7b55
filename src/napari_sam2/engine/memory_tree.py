"""Long-stack mode: the rules of SAM2Long's multi-path memory tree (Ding et al., 2024).

Plain SAM 2 commits the single best mask of every frame to memory, so one
wrong pick poisons the frames after it. The memory tree keeps ``pathways``
hypotheses per object, each with its own memory history (a forked
:class:`MemoryBank`) and a cumulative score, and answers with the path of
the best one. Written from the paper and the published algorithm; this
module holds the rules as small pure functions, ``long_stack.py`` runs them.

- Candidates: each pathway proposes the decoder's 3 masks, scored by the
  pathway's score + log(predicted IoU + 1e-5); the best ``pathways`` survive.
  When every pathway is unsure whether the object is there (|object score
  logit| <= ``uncertainty``), candidates with distinct predicted IoU (rounded
  to 0.01, signed by presence) are kept instead, so pathways do not collapse.
- Object-aware memory: besides the prompted frames, a pathway remembers the
  previous frame and earlier frames whose chosen mask had predicted IoU above
  ``iou_threshold`` with the object present.
- Memory weighting: memory keys are scaled by a linear ramp over
  ``weight_range`` by the rank of each memory's object score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from napari_sam2.engine.memory_bank import (
    Direction,
    MemoryBank,
    MemoryKind,
    MemorySelection,
    PointerSlot,
    SpatialSlot,
)

PROMPTED_SCORE = 10.0  # prompted frames count as the most confident memories


@dataclass(frozen=True)
class MemoryTree:
    """Settings of the long-stack mode (SAM2Long's published defaults).

    ``object_aware=False`` and ``weight_range=None`` turn the memory rules
    off; with ``pathways=1`` as well, results equal plain SAM 2.
    """

    pathways: int = 3
    iou_threshold: float = 0.1
    uncertainty: float = 2.0
    weight_range: tuple[float, float] | None = (0.95, 1.05)
    object_aware: bool = True

    def __post_init__(self) -> None:
        if (
            isinstance(self.pathways, bool)
            or not isinstance(self.pathways, int)
            or self.pathways < 1
        ):
            raise ValueError(f"pathways must be an integer >= 1, got {self.pathways!r}")
        if not 0.0 <= self.iou_threshold < 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1), got {self.iou_threshold}")
        if not self.uncertainty >= 0.0:
            raise ValueError(f"uncertainty must be >= 0, got {self.uncertainty}")
        if self.weight_range is not None:
            lo, hi = self.weight_range
            if not 0.0 < lo <= hi:
                raise ValueError(
                    "weight_range must be (low, high) with 0 < low <= high, "
                    f"got {self.weight_range}"
                )


@dataclass(frozen=True)
class Step:
    """What a pathway chose on one tracked frame."""

    frame: int
    iou: float  # predicted IoU of the chosen mask
    object_score: float  # object-score logit of that frame

    def memorable(self, iou_threshold: float) -> bool:
        return self.iou > iou_threshold and self.object_score > 0


@dataclass(frozen=True)
class Candidate:
    """Mask ``index`` of pathway ``pathway``'s answer on a frame, with its path score."""

    pathway: int
    index: int
    score: float
    signed_iou: float  # predicted IoU, negative when the object is predicted absent


def score_candidates(
    path_scores: Sequence[float], ious: torch.Tensor, object_scores: torch.Tensor
) -> list[Candidate]:
    """Every candidate of every pathway: ``ious (P, 3)``, ``object_scores (P,)``."""
    out = []
    for p, base in enumerate(path_scores):
        present = float(object_scores[p]) > 0
        for j in range(ious.shape[1]):
            iou = float(ious[p, j])
            out.append(Candidate(p, j, base + math.log(iou + 1e-5), iou if present else -iou))
    return out


def prune(
    candidates: list[Candidate], object_scores: torch.Tensor, tree: MemoryTree
) -> list[Candidate]:
    """The candidates that become the next pathways, best first."""
    ranked = sorted(
        candidates, key=lambda c: c.score, reverse=True
    )  # stable: ties keep pathway order
    keep = tree.pathways
    if float(object_scores.abs().max()) > tree.uncertainty:
        return ranked[:keep]
    # Unsure whether the object is there: keep hypotheses that differ.
    chosen, seen = [], set()
    for cand in ranked:
        value = round(cand.signed_iou, 2)
        if value not in seen:
            chosen.append(cand)
            seen.add(value)
        if len(chosen) == keep:
            return chosen
    # Too few distinct answers: the best candidate of each unused pathway.
    used = {c.pathway for c in chosen}
    for p in range(object_scores.shape[0]):
        if p not in used:
            chosen.append(next(c for c in ranked if c.pathway == p))
        if len(chosen) == keep:
            break
    return chosen


def memory_frames(history: Sequence[Step], tree: MemoryTree, max_pointers: int) -> list[int]:
    """Tracked frames a pathway remembers, oldest first.

    ``history`` is the pathway's steps of this run, oldest first. Walking back
    from the previous frame, memorable frames are collected until there are
    ``max_pointers - 1``; the previous frame is always included.
    """
    frames: list[int] = []
    for step in reversed(history):
        if step.memorable(tree.iou_threshold):
            frames.insert(0, step.frame)
        if len(frames) >= max_pointers - 1:
            break
    if history and history[-1].frame not in frames:
        frames.append(history[-1].frame)
    return frames


def select_remembered(
    bank: MemoryBank, obj_id: int, frame: int, direction: Direction, remembered: list[int]
) -> MemorySelection:
    """The memory selection of the object-aware rule.

    Slots 1..6 take the 6 newest remembered frames (6 the newest); pointers
    take remembered frames newest first at slot distances 1, 2, ... but never
    the oldest one (as the published code does), after the prompted frames'.
    """
    rules = bank.rules
    plain = bank.select(obj_id, frame, direction)  # for the conditioning part
    spatial = [s for s in plain.spatial if s.kind is MemoryKind.CONDITIONING]
    recent = remembered[-(rules.num_maskmem - 1) :]
    first_slot = rules.num_maskmem - len(recent)
    spatial += [SpatialSlot(t, MemoryKind.TRACKED, first_slot + i) for i, t in enumerate(recent)]
    pointers = [p for p in plain.pointers if p.kind is MemoryKind.CONDITIONING]
    max_ptrs = min(rules.num_frames, rules.max_obj_ptrs)
    for dist in range(1, min(max_ptrs, len(remembered))):
        pointers.append(PointerSlot(remembered[-dist], MemoryKind.TRACKED, dist))
    return MemorySelection(
        obj_id, frame, direction, tuple(spatial), tuple(pointers), plain.max_distance
    )


def rank_weights(scores: Sequence[float], low: float, high: float) -> list[float]:
    """A linear ramp from ``low`` to ``high`` assigned by rank: the lowest score gets ``low``."""
    n = len(scores)
    ramp = torch.linspace(low, high, n).tolist()
    order = sorted(range(n), key=lambda i: scores[i])  # stable for ties
    weights = [0.0] * n
    for rank, i in enumerate(order):
        weights[i] = ramp[rank]
    return weights


def key_weights(
    selection: MemorySelection, tracked_score: Callable[[int], float], tree: MemoryTree
) -> list[float] | None:
    """Key scales for a selection's memory frames then pointers (None: unscaled).

    ``tracked_score(frame)`` is a tracked frame's object-score logit; prompted
    frames count as :data:`PROMPTED_SCORE`. With one memory frame nothing is scaled.
    """
    if tree.weight_range is None or len(selection.spatial) <= 1:
        return None

    def score(frame: int, kind: MemoryKind) -> float:
        return PROMPTED_SCORE if kind is MemoryKind.CONDITIONING else tracked_score(frame)

    low, high = tree.weight_range
    frame_w = rank_weights([score(s.frame, s.kind) for s in selection.spatial], low, high)
    ptr_w = (
        rank_weights([score(p.frame, p.kind) for p in selection.pointers], low, high)
        if selection.pointers
        else []
    )
    return frame_w + ptr_w
