"""The one propagation plan: anchors, ranges, totals and the passes run on a session."""

from __future__ import annotations

import pytest

from napari_sam2.engine.plan import PropagationPlan, iterate_plan, make_plan


class _FakeSession:
    """Prompts on ``prompted`` of ``num_frames``; ``propagate`` yields frame numbers
    exactly as ``VideoSession.propagate`` visits them."""

    def __init__(self, prompted=(3,), num_frames=10):
        self.num_frames, self.prompted, self.obj_ids = num_frames, list(prompted), (1,)
        self.calls = []

    def prompted_frames(self, obj_id):
        return self.prompted

    def propagate(self, start, reverse=False, max_frames=None):
        self.calls.append((start, reverse, max_frames))
        if reverse:
            yield from (range(start, max(start - max_frames, 0) - 1, -1) if start > 0 else ())
        else:
            yield from range(start, min(start + max_frames, self.num_frames - 1) + 1)


def test_plan_ranges():
    s = _FakeSession()
    assert make_plan(s, "forward").start == 3 and make_plan(s, "forward").total == 7
    assert make_plan(s, "backward").total == 4
    assert make_plan(s, "both", 1, 5).total == 3 + 3
    with pytest.raises(ValueError, match="direction"):
        make_plan(s, "sideways")
    with pytest.raises(ValueError, match="not inside"):
        make_plan(s, "forward", 4, 10)


def test_anchor_is_the_shown_slice_or_the_earliest_or_latest_prompt():
    s = _FakeSession(prompted=(2, 6))
    assert make_plan(s, "forward").start == 2
    assert make_plan(s, "both").start == 2
    assert make_plan(s, "backward").start == 6
    assert make_plan(s, "forward", anchor=5).start == 5  # the slice shown
    assert make_plan(s, "forward", 3, 9, anchor=1).start == 6  # outside: a prompt inside
    assert make_plan(s, "forward", 7, 9).start == 7  # no prompt inside: the range's edge
    with pytest.raises(ValueError, match="no prompts"):
        make_plan(_FakeSession(prompted=()), "forward")


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
@pytest.mark.parametrize("prompted", [(0,), (3,), (9,), (2, 7)])
def test_total_is_what_the_session_yields(direction, prompted):
    s = _FakeSession(prompted)
    for first, last in [(0, 9), (0, 7), (2, 9)]:
        if not any(first <= f <= last for f in prompted):
            continue
        plan = make_plan(s, direction, first, last)
        frames = list(iterate_plan(s, plan))
        assert len(frames) == plan.total
        assert all(first <= f <= last for f in frames)
        forward = list(range(plan.start, last + 1))
        backward = list(range(plan.start, first - 1, -1)) if plan.start > 0 else []
        expected = {"forward": forward, "backward": backward, "both": forward + backward}
        assert frames == expected[direction]
        assert s.calls[-len(plan.passes):] == list(plan.passes)


def test_backward_from_frame_0_yields_nothing_and_counts_nothing():
    plan = make_plan(_FakeSession(prompted=(0,)), "both")
    assert plan.passes == ((0, False, 9), (0, True, 0)) and plan.total == 10


def test_plan_is_frozen_and_checked():
    plan = PropagationPlan("forward", 2, 0, 5)
    with pytest.raises(AttributeError):
        plan.start = 3
    with pytest.raises(ValueError, match="outside"):
        PropagationPlan("forward", 7, 0, 5)
    with pytest.raises(ValueError, match="direction"):
        PropagationPlan("up", 2, 0, 5)
