"""Targeted re-propagation: after a correction, re-track one object only.

A correction on frame ``f`` changes one object's memories from ``f`` on. A
full propagation would re-track every object over the whole stack;
:func:`plan_retrack` limits the run to the corrected object, from ``f`` to
the frame before its next prompted frame in the direction of travel (or the
end of the stack), and :func:`run_retrack` runs it. With ``agree_iou`` set, the
run stops early once the new masks agree with the old ones (IoU at least
``agree_iou``) on ``agree_frames`` frames in a row: from there tracking
would give back what is already there. Other objects' masks and memories
are never touched: every result holds the re-tracked object alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from napari_sam2.engine.plan import frame_order
from napari_sam2.engine.prompts import check_frame_index, check_obj_id
from napari_sam2.engine.results import FrameResult

__all__ = ["RetrackPlan", "mask_iou", "plan_retrack", "run_retrack"]


@dataclass(frozen=True)
class RetrackPlan:
    """Re-track ``obj_id`` from ``start`` to ``stop`` (inclusive) in one direction."""

    obj_id: int
    start: int
    stop: int
    reverse: bool = False
    agree_iou: float | None = None  # stop early once new and old masks agree this well
    agree_frames: int = 3  # ... on this many frames in a row

    def __post_init__(self) -> None:
        if self.reverse and self.stop > self.start or not self.reverse and self.stop < self.start:
            way = "backward" if self.reverse else "forward"
            raise ValueError(f"a {way} re-track cannot go from frame {self.start} to {self.stop}")
        if self.agree_iou is not None and not 0.0 < self.agree_iou <= 1.0:
            raise ValueError(f"agree_iou must be in (0, 1] or None, got {self.agree_iou}")
        if self.agree_frames < 1:
            raise ValueError(f"agree_frames must be >= 1, got {self.agree_frames}")

    @property
    def max_frames(self) -> int:
        return abs(self.stop - self.start)

    @property
    def total(self) -> int:
        """Results the run yields at most."""
        return self.max_frames + 1

    @property
    def frames(self) -> range:
        end = max(self.start, self.stop) + 1
        return frame_order(self.start, self.reverse, self.max_frames, end)


def plan_retrack(
    session,
    obj_id: int,
    frame: int,
    reverse: bool = False,
    agree_iou: float | None = None,
    agree_frames: int = 3,
) -> RetrackPlan:
    """Re-track ``obj_id`` from its corrected ``frame`` up to (not into) its next
    prompted frame in the direction of travel, or to the end of the stack."""
    obj_id = check_obj_id(obj_id)
    frame = check_frame_index(frame, session.num_frames)
    if obj_id not in session.obj_ids:
        raise ValueError(f"unknown object id {obj_id}; objects in this session: {session.obj_ids}")
    prompted = session.prompted_frames(obj_id)
    if reverse:
        before = [f for f in prompted if f < frame]
        stop = before[-1] + 1 if before else 0
    else:
        after = [f for f in prompted if f > frame]
        stop = after[0] - 1 if after else session.num_frames - 1
    return RetrackPlan(obj_id, frame, stop, bool(reverse), agree_iou, int(agree_frames))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def run_retrack(session, plan: RetrackPlan) -> Iterator[FrameResult]:
    """Run ``plan``: one result per frame, holding only the re-tracked object.

    Stops after the plan's last frame, or early once ``agree_frames`` frames
    in a row agree with the masks shown before (``agree_iou``). In long-stack
    mode the frames visited come again at the end with the best pathway's
    masks, so the last result per frame is the final one.
    """
    obj = plan.obj_id
    run = session.propagate(plan.start, reverse=plan.reverse, max_frames=plan.max_frames,
                            obj_ids=[obj])
    agreeing = 0
    visited: list[int] = []
    try:
        for frame in plan.frames:
            before = _mask(session.result(frame), obj) if plan.agree_iou is not None else None
            result = next(run, None)
            if result is None:
                break
            visited.append(result.frame)
            yield _only(result, obj)
            if before is not None and frame != plan.start:
                same = mask_iou(before, result.mask_of(obj)) >= plan.agree_iou
                agreeing = agreeing + 1 if same else 0
                if agreeing >= plan.agree_frames:
                    break
    finally:
        run.close()  # long-stack mode: adopts the best pathway of the frames visited
    if getattr(session, "memory_tree", None) is not None:
        for frame in visited:
            yield _only(session.result(frame), obj)


def _only(result: FrameResult, obj_id: int) -> FrameResult:
    i = result.obj_ids.index(obj_id)
    return FrameResult(
        result.frame,
        (obj_id,),
        result.low_res_logits[i : i + 1],
        result.object_score_logits[i : i + 1],
        result.masks[i : i + 1],
    )


def _mask(result: FrameResult, obj_id: int) -> np.ndarray:
    return result.mask_of(obj_id).copy()
