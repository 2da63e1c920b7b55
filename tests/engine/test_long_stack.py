"""Long-stack mode where the reference has nothing to compare with: several
objects, backward runs, refinements, cancelling, and plain SAM 2 as a special case."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.engine.memory_tree import MemoryTree
from napari_sam2.engine.session import VideoSession
from tests.engine.test_session import disc_stack

TREE = MemoryTree(pathways=3, iou_threshold=0.1, uncertainty=2.0)


@pytest.fixture(scope="module")
def frames():
    return disc_stack(t=6)


def run(model, frames, tree, objs=(1,), start=0, reverse=False, max_frames=None):
    """Final low-res logits per frame and object, and every frame in yield order."""
    session = VideoSession(model, frames, memory_tree=tree)
    for obj in objs:
        session.add_points(start, obj, [[40 + 5 * start + 45 * (obj - 1), 48]], [1])
    final, order = {}, []
    for r in session.propagate(start, reverse=reverse, max_frames=max_frames):
        order.append(r.frame)
        for i, obj in enumerate(r.obj_ids):
            final[r.frame, obj] = r.low_res_logits[i]
    return session, final, order


def test_one_pathway_without_the_memory_rules_is_plain_sam2(small_model, frames):
    _, plain, order = run(small_model, frames, None)
    _, tree, tree_order = run(
        small_model, frames, MemoryTree(1, object_aware=False, weight_range=None)
    )
    assert tree_order == order == list(range(6))  # nothing changed at the end: nothing re-emitted
    for key in plain:
        np.testing.assert_array_equal(tree[key], plain[key])


def test_last_result_of_each_frame_is_the_sessions_final_answer(small_model, frames):
    session, final, order = run(small_model, frames, TREE)
    assert order[:6] == list(range(6))
    assert len(order) == len(set(order[6:])) + 6  # re-emitted frames come once each, after the run
    for (frame, obj), logits in final.items():
        r = session.result(frame)
        np.testing.assert_array_equal(r.low_res_logits[r.obj_ids.index(obj)], logits)
    # Only the best pathway's memories stay in the session's bank.
    assert session.bank.num_stored == 6


def test_two_objects_at_once_equal_each_tracked_alone(small_model, frames):
    _, both, _ = run(small_model, frames, TREE, objs=(1, 2))
    _, one, _ = run(small_model, frames, TREE, objs=(1,))
    for frame in range(6):
        np.testing.assert_allclose(both[frame, 1], one[frame, 1], atol=1e-4)


def test_backward_from_the_last_frame(small_model, frames):
    session, final, order = run(small_model, frames, TREE, start=5, reverse=True)
    assert order[:6] == [5, 4, 3, 2, 1, 0]
    assert session.tracked_frames(1) == list(range(6))
    assert all((final[f, 1] > 0).any() for f in range(6))  # the disc is found on every frame


def test_refinement_click_in_the_middle_becomes_a_conditioning_frame_for_all_pathways(
    small_model, frames
):
    session, _, _ = run(small_model, frames, TREE)
    session.add_points(3, 1, [[55, 48], [20, 20]], [1, 0])
    shown = session.result(3).low_res_logits[0]
    again = [r.frame for r in session.propagate(3)]
    assert again[:3] == [3, 4, 5]
    assert session.prompted_frames(1) == [0, 3]
    assert session.bank.is_conditioning(1, 3)
    np.testing.assert_array_equal(session.result(3).low_res_logits[0], shown)


def test_cancel_half_way_keeps_the_best_path_of_the_visited_frames(small_model, frames):
    # Stopping after frame 3 must leave what a run that ends at frame 3 leaves.
    session = VideoSession(small_model, frames, memory_tree=TREE)
    session.add_points(0, 1, [[40, 48]], [1])
    gen = session.propagate()
    for _ in range(4):
        next(gen)
    gen.close()
    reference, final, _ = run(small_model, frames, TREE, max_frames=3)
    assert session.tracked_frames(1) == reference.tracked_frames(1) == [0, 1, 2, 3]
    for frame in range(4):
        np.testing.assert_array_equal(session.result(frame).low_res_logits[0], final[frame, 1])


def test_the_session_checks_its_tree():
    with pytest.raises(ValueError, match="memory_tree must be a MemoryTree"):
        VideoSession(None, np.zeros((2, 8, 8)), memory_tree={"pathways": 3})
