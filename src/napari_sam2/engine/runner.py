"""Batch segmentation of one stack: prompts in, a label stack out.

:func:`segment_stack` is what ``napari-sam2 segment`` runs, and what a
batch over many stacks (one call per stack, in worker processes) will run:
it neither prints nor reads command-line arguments. Progress, if wanted,
goes to a ``progress(done, total)`` callback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from napari_sam2.engine.labels import label_dtype
from napari_sam2.engine.memory_tree import MemoryTree
from napari_sam2.engine.plan import DIRECTIONS, iterate_plan, make_plan
from napari_sam2.engine.prompt_file import PromptRecord, check_prompts_fit

if TYPE_CHECKING:  # pragma: no cover
    from napari_sam2.engine.frames import FrameSource

__all__ = ["LABELS_IN_RAM_BYTES", "Progress", "SegmentOptions", "check_inputs", "label_buffer",
           "segment_stack", "set_prompts"]

# Label stacks larger than this are collected in a memory-mapped file in the
# caller's work folder instead of in RAM (a 2,000-frame 2048 x 2048 stack is 16 GB).
LABELS_IN_RAM_BYTES = 1 << 30

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SegmentOptions:
    """How to propagate: forward from the first prompted frame, backward from
    the last, or both (forward then backward from the first), over the frame
    range ``[start, stop)`` (``stop`` None: to the end); hole filling and
    non-overlap post-process every mask as in ``VideoSession``; ``memory_tree``
    turns on the long-stack mode."""

    direction: str = "forward"
    start: int = 0
    stop: int | None = None
    fill_hole_area: int = 0
    non_overlap: bool = False
    memory_tree: MemoryTree | None = None

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.start < 0:
            raise ValueError(f"start must be >= 0, got {self.start}")
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"the frame range {self.start}..{self.stop} (start..stop) is empty")
        if self.fill_hole_area < 0:
            raise ValueError(f"fill_hole_area must be >= 0, got {self.fill_hole_area}")

    def frame_range(self, num_frames: int) -> tuple[int, int]:
        """``(start, stop)`` for a stack of ``num_frames`` (``ValueError`` outside it)."""
        stop = num_frames if self.stop is None else self.stop
        if stop > num_frames:
            raise ValueError(f"frame range start {self.start} stop {stop} is not within "
                             f"0..{num_frames}")
        return self.start, stop


def check_inputs(frames: FrameSource, records: Sequence[PromptRecord],
                 options: SegmentOptions) -> tuple[int, int]:
    """Check that the prompts fit the stack and the frame range, before anything
    slow (such as loading a model); returns the range ``(start, stop)``."""
    start, stop = options.frame_range(frames.num_frames)
    check_prompts_fit(records, frames.num_frames, frames.frame_shape)
    outside = [r.frame for r in records if not start <= r.frame < stop]
    if outside:
        raise ValueError(f"prompt on frame {outside[0]} is outside the frame range "
                         f"{start}..{stop - 1} (start/stop)")
    return start, stop


def label_buffer(shape: tuple[int, ...], max_id: int, workdir: Path | None) -> np.ndarray:
    """A zeroed label stack: in RAM when small, else memory-mapped in ``workdir``."""
    dtype = label_dtype(max_id)
    if workdir is None or int(np.prod(shape)) * dtype.itemsize <= LABELS_IN_RAM_BYTES:
        return np.zeros(shape, dtype)
    return np.lib.format.open_memmap(Path(workdir) / "labels.npy", mode="w+", dtype=dtype,
                                     shape=shape)


def set_prompts(session, records: Sequence[PromptRecord]) -> None:
    """Give the session every record's box and clicks (a later record for the
    same frame and object replaces an earlier one)."""
    for rec in records:
        session.set_prompt(rec.frame, rec.obj_id, box=rec.box,
                           points=np.asarray(rec.points, np.float32) if rec.points else None,
                           labels=np.asarray(rec.labels) if rec.points else None)


def segment_stack(model, frames, records: Sequence[PromptRecord], options: SegmentOptions, *,
                  masks: Mapping[int, np.ndarray] | None = None,
                  workdir: str | Path | None = None,
                  progress: Progress | None = None) -> np.ndarray:
    """Segment ``records`` on ``frames`` and propagate them; the ``(T, H, W)`` label stack.

    ``frames``: anything ``VideoSession`` opens (an array, a path, a
    ``FrameSource``). ``masks``: object id -> ``(H, W)`` mask prompt on the
    range's first frame (seeds from a label image), besides or instead of
    ``records``. Frames outside the range or not reached stay 0. The
    stack is memory-mapped in ``workdir`` when over ``LABELS_IN_RAM_BYTES``
    (the caller removes the folder once done with it). ``progress(done,
    total)`` is called once before the first frame and after every frame.
    """
    from napari_sam2.engine import session as session_module  # looked up now: tests patch it
    from napari_sam2.engine.frames import open_frames

    masks = dict(masks or {})
    if not records and not masks:
        raise ValueError("no prompts: give at least one point, box or mask")
    src = open_frames(frames)
    start, stop = check_inputs(src, records, options)
    session = session_module.VideoSession(model, src, fill_hole_area=options.fill_hole_area,
                                          non_overlap=options.non_overlap,
                                          memory_tree=options.memory_tree)
    set_prompts(session, records)
    for obj_id, mask in masks.items():
        session.add_mask(start, obj_id, mask)
    labels = label_buffer((src.num_frames, *src.frame_shape),
                          max([r.obj_id for r in records] + list(masks)),
                          None if workdir is None else Path(workdir))
    plan = make_plan(session, options.direction, start, stop - 1)
    if progress is not None:
        progress(0, plan.total)
    for done, result in enumerate(iterate_plan(session, plan), 1):
        labels[result.frame] = result.to_labels(src.frame_shape)
        if progress is not None:
            # Long-stack mode yields changed frames again at the end: those add no progress.
            progress(min(done, plan.total), plan.total)
    return labels
