"""Targeted re-propagation: one object, from its correction to its next prompt."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.engine.retrack import RetrackPlan, mask_iou, plan_retrack, run_retrack
from napari_sam2.engine.session import VideoSession
from tests.engine.test_session import disc_stack


@pytest.fixture()
def tracked(small_model):
    session = VideoSession(small_model, disc_stack(t=8))
    session.add_points(0, 1, [[40, 48]], [1])
    session.add_box(0, 2, [90, 10, 120, 40])
    session.add_points(6, 2, [[105, 25]], [1])
    list(session.propagate())
    return session


def test_plan_ends_before_the_next_prompt(tracked):
    assert plan_retrack(tracked, 2, 2) == RetrackPlan(2, 2, 5)
    assert plan_retrack(tracked, 1, 2).stop == 7  # no later prompt: the end
    assert plan_retrack(tracked, 2, 4, reverse=True).stop == 1
    assert plan_retrack(tracked, 1, 3, reverse=True).stop == 1
    assert list(plan_retrack(tracked, 2, 2).frames) == [2, 3, 4, 5]
    with pytest.raises(ValueError, match="unknown object id 9"):
        plan_retrack(tracked, 9, 2)
    with pytest.raises(ValueError, match="forward re-track"):
        RetrackPlan(1, 5, 2)


def test_retrack_touches_only_the_corrected_object(tracked):
    other = {f: tracked.result(f).mask_of(2).copy() for f in range(8)}
    other_logits = {f: tracked.result(f).low_res_logits[1].copy() for f in range(8)}
    tracked.add_points(2, 1, [[60, 48], [5, 5]], [1, 1])
    plan = plan_retrack(tracked, 1, 2)
    results = list(run_retrack(tracked, plan))
    assert [r.frame for r in results] == [2, 3, 4, 5, 6, 7]
    assert all(r.obj_ids == (1,) for r in results)
    for f in range(8):
        np.testing.assert_array_equal(tracked.result(f).mask_of(2), other[f])
        np.testing.assert_array_equal(tracked.result(f).low_res_logits[1], other_logits[f])
    for r in results:  # what it yields is what the session now shows
        np.testing.assert_array_equal(r.masks[0], tracked.result(r.frame).mask_of(1))


def test_retrack_stops_once_masks_agree(tracked):
    tracked.add_points(2, 1, [[45, 48]], [1], clear=False)  # a correction that changes little
    plan = plan_retrack(tracked, 1, 2, agree_iou=0.0001, agree_frames=2)
    frames = [r.frame for r in run_retrack(tracked, plan)]
    assert frames == [2, 3, 4]


def test_mask_iou():
    a = np.zeros((4, 4), bool)
    assert mask_iou(a, a) == 1.0
    b = a.copy()
    b[0, :2] = True
    c = a.copy()
    c[0, 1:3] = True
    assert mask_iou(b, c) == pytest.approx(1 / 3)
