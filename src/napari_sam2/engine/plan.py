"""Which frames a propagation visits: one plan for the plugin and the command line.

A :class:`PropagationPlan` is a direction, an anchor frame (where tracking
starts) and the range ``[first, last]`` to fill. :func:`make_plan` picks the
anchor the same way for every caller; :func:`iterate_plan` runs a plan on a
:class:`~napari_sam2.engine.session.VideoSession`, one result per frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DIRECTIONS", "PropagationPlan", "frame_order", "iterate_plan", "make_plan"]

DIRECTIONS = ("forward", "backward", "both")


class _Prompted(Protocol):
    """What planning needs of a session (tests pass small fakes)."""

    @property
    def num_frames(self) -> int: ...

    @property
    def obj_ids(self): ...

    def prompted_frames(self, obj_id: int) -> list[int]: ...


@dataclass(frozen=True)
class PropagationPlan:
    """Which frames a run visits: a direction, an anchor frame and a range.

    ``both`` runs forward from the anchor to ``last``, then backward from the
    anchor to ``first`` (the anchor is yielded twice).
    """

    direction: str
    start: int  # anchor: where tracking starts (a prompted frame)
    first: int  # the range [first, last] to fill
    last: int

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if not self.first <= self.start <= self.last:
            raise ValueError(
                f"anchor frame {self.start} is outside the range {self.first}..{self.last}"
            )

    @property
    def passes(self) -> tuple[tuple[int, bool, int], ...]:
        """``(start, reverse, max_frames)`` for each ``VideoSession.propagate`` call."""
        forward = (self.start, False, self.last - self.start)
        backward = (self.start, True, self.start - self.first)
        return {"forward": (forward,), "backward": (backward,), "both": (forward, backward)}[
            self.direction
        ]

    @property
    def total(self) -> int:
        """Number of results the run yields (the anchor twice for 'both')."""
        return sum(len(frame_order(s, r, m, self.last + 1)) for s, r, m in self.passes)


def frame_order(start: int, reverse: bool, max_frames: int, num_frames: int) -> range:
    """The frames ``VideoSession.propagate`` visits: ``start`` and at most
    ``max_frames`` past it, inside the stack. As in the reference, a backward
    pass from frame 0 visits nothing."""
    if reverse:
        return range(start, max(start - max_frames, 0) - 1, -1) if start > 0 else range(0)
    return range(start, min(start + max_frames, num_frames - 1) + 1)


def make_plan(
    session: _Prompted,
    direction: str,
    first: int | None = None,
    last: int | None = None,
    anchor: int | None = None,
) -> PropagationPlan:
    """Plan a run over ``[first, last]`` (default: the whole stack) from ``anchor``.

    Without an anchor (or one outside the range) it is the earliest prompted
    frame inside the range for forward and both, the latest for backward.
    Starting at a refined slice leaves the slices on the other side alone.
    ``ValueError`` without any prompt.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    n = session.num_frames
    first = 0 if first is None else int(first)
    last = n - 1 if last is None else int(last)
    if not 0 <= first <= last < n:
        raise ValueError(f"frame range {first}..{last} is not inside 0..{n - 1}")
    prompted = sorted({f for o in session.obj_ids for f in session.prompted_frames(o)})
    if not prompted:
        raise ValueError("no prompts yet: click on an object (or draw a box) first")
    inside = [f for f in prompted if first <= f <= last]
    if anchor is not None and first <= anchor <= last:
        return PropagationPlan(direction, int(anchor), first, last)
    if direction == "backward":
        start = inside[-1] if inside else last
    else:
        start = inside[0] if inside else first
    return PropagationPlan(direction, start, first, last)


def iterate_plan(session, plan: PropagationPlan) -> Iterator:
    """The session's ``FrameResult`` for every frame of ``plan``, in order
    (the session does all the tracking)."""
    for start, reverse, max_frames in plan.passes:
        yield from session.propagate(start, reverse=reverse, max_frames=max_frames)
