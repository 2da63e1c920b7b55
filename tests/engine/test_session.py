"""VideoSession as scripts use it: objects, edits, bad input, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2 import VideoSession


def disc_stack(t=4, h=96, w=128, dtype=np.uint16):
    """A bright disc drifting right over a noisy background."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:h, :w]
    frames = rng.integers(100, 200, size=(t, h, w)).astype(dtype)
    for i in range(t):
        frames[i][(yy - 48) ** 2 + (xx - 40 - 5 * i) ** 2 < 15**2] += 2000
    return frames


@pytest.fixture()
def session(small_model):
    return VideoSession(small_model, disc_stack())


def test_click_then_propagate_both_ways(session):
    r = session.add_points(2, 1, [[50, 48]], [1])
    assert r.frame == 2 and r.obj_ids == (1,)
    assert r.masks.shape == (1, 96, 128) and r.low_res_logits.shape == (1, 64, 64)
    frames = [res.frame for res in session.propagate_both()]
    assert frames == [2, 3, 2, 1, 0]
    assert session.tracked_frames(1) == [0, 1, 2, 3]
    assert session.prompted_frames(1) == [2]


def test_objects_added_after_propagation_and_removed(session):
    session.add_box(0, 1, [25, 33, 55, 63])
    list(session.propagate())
    r = session.add_points(1, 7, [[100, 20]], [1])
    assert r.obj_ids == (1, 7) and r.masks.shape == (2, 96, 128)
    results = list(session.propagate(start=1))
    assert [x.obj_ids for x in results] == [(1, 7)] * 3
    session.remove_object(1)
    assert session.obj_ids == [7]
    with pytest.raises(ValueError, match="unknown object id 1"):
        session.prompted_frames(1)


def test_generator_can_stop_early(session):
    session.add_points(0, 1, [[40, 48]], [1])
    gen = session.propagate()
    first = next(gen)
    gen.close()
    assert first.frame == 0
    assert session.tracked_frames(1) == [0]


def test_correction_survives_repropagation(session):
    session.add_points(0, 1, [[40, 48]], [1])
    list(session.propagate())
    corrected = session.add_points(2, 1, [[5, 5]], [1], clear=False).low_res_logits.copy()
    list(session.propagate())
    again = next(session.propagate(start=2, max_frames=0))
    np.testing.assert_array_equal(again.low_res_logits, corrected)


def test_candidates_cycle(session):
    session.add_points(1, 3, [[45, 48]], [1])
    cands = session.candidates(1, 3)
    assert cands.masks.shape == (3, 96, 128) and cands.iou.shape == (3,)
    r = session.select_candidate(1, 3, 2)
    np.testing.assert_array_equal(r.low_res_logits[0], cands.low_res_logits[2])
    list(session.propagate())  # the chosen candidate is what propagates
    with pytest.raises(ValueError, match="candidate index"):
        session.select_candidate(1, 3, 5)


def test_clear_frame_and_reset(session):
    session.add_points(0, 1, [[40, 48]], [1])
    r = session.clear_frame(0)
    assert session.prompted_frames(1) == []
    assert not r.masks.any()
    with pytest.raises(ValueError, match="no prompts"):
        list(session.propagate())
    session.reset()
    assert session.obj_ids == []
    with pytest.raises(ValueError, match="no objects"):
        list(session.propagate())


def test_absent_mask_gives_empty_frame(session):
    session.add_points(0, 1, [[40, 48]], [1])
    r = session.add_mask(1, 1, np.zeros((96, 128), bool))
    assert r.object_score_logits[0] == pytest.approx(-10.0)
    assert not r.masks.any()


def test_one_frame_stack_is_an_image(small_model):
    s = VideoSession(small_model, disc_stack(t=1)[0])
    assert s.num_frames == 1
    r = s.add_points(0, 1, [[40, 48]], [1])
    assert r.masks.shape == (1, 96, 128)
    assert [x.frame for x in s.propagate()] == [0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.add_points(9, 1, [[1, 1]], [1]), "frame 9 is out of range"),
        (lambda s: s.add_points(0, 1, [[500, 1]], [1]), "outside the frame"),
        (lambda s: s.add_points(0, 1, [[1, 1]], [2]), "labels must be 1"),
        (lambda s: s.add_points(0, 1, [[1, 1], [2, 2]], [1]), "2 points but 1 labels"),
        (lambda s: s.add_box(0, 1, [1, 2, 3]), "box must be 4"),
        (lambda s: s.add_mask(0, 1, np.zeros((5, 5), bool)), "mask has shape"),
        (lambda s: s.remove_object(42), "unknown object id 42"),
        (lambda s: s.add_points(0, -1, [[1, 1]], [1]), "object id must be"),
    ],
)
def test_bad_input_is_a_clear_error_and_session_stays_usable(session, call, message):
    with pytest.raises(ValueError, match=message):
        call(session)
    assert session.add_points(0, 1, [[40, 48]], [1]).masks.shape == (1, 96, 128)


def test_nan_frames_are_reported(small_model):
    data = disc_stack().astype(np.float32)
    data[1, 3, 3] = np.nan
    s = VideoSession(small_model, data)
    with pytest.raises(ValueError, match="NaN"):
        s.add_points(1, 1, [[40, 48]], [1])
    assert s.add_points(0, 1, [[40, 48]], [1]).masks.any() in (True, False)


def test_too_few_dimensions(small_model):
    with pytest.raises(ValueError):
        VideoSession(small_model, np.zeros(10))


def test_memory_budget_spills_to_disk(small_model, tmp_path):
    s = VideoSession(
        small_model, disc_stack(t=6), memory_budget_bytes=50_000, cache_bytes=0, spill_dir=tmp_path
    )
    s.add_points(0, 1, [[40, 48]], [1])
    first = [r.low_res_logits.copy() for r in s.propagate()]
    assert s.bank.store.nbytes <= 50_000 + 400_000  # at most about one entry over budget
    assert any(tmp_path.iterdir())
    # Spilled memories read back exactly: a second pass gives the same masks.
    again = [r.low_res_logits for r in s.propagate()]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert s.tracked_frames(1) == list(range(6))


def test_features_are_cached_between_passes(small_model):
    s = VideoSession(small_model, disc_stack())
    s.add_points(0, 1, [[40, 48]], [1])
    list(s.propagate())
    misses = s.feature_cache.stats["misses"]
    list(s.propagate())
    assert s.feature_cache.stats["misses"] == misses


def test_objects_batched_like_alone(small_model):
    """Two objects tracked together give what each gives when tracked alone."""
    stack = disc_stack(t=4)
    both = VideoSession(small_model, stack)
    both.add_points(0, 1, [[40, 48]], [1])
    both.add_box(0, 2, [90, 5, 120, 30])
    together = [r.low_res_logits for r in both.propagate()]
    for i, obj in enumerate((1, 2)):
        alone = VideoSession(small_model, stack)
        if obj == 1:
            alone.add_points(0, 1, [[40, 48]], [1])
        else:
            alone.add_box(0, 2, [90, 5, 120, 30])
        for t, r in enumerate(alone.propagate()):
            np.testing.assert_allclose(r.low_res_logits[0], together[t][i], atol=1e-3)


def test_second_refinement_click_reuses_memory_attention(small_model):
    """Clicks on a tracked frame see the same memories until the next propagation,
    so only the first of them runs memory attention; answers are unchanged."""
    calls = []
    hook = small_model.memory_attention.register_forward_hook(lambda *_: calls.append(1))
    try:
        answers = []
        for reuse in (True, False):
            session = VideoSession(small_model, disc_stack())
            session.add_points(0, 1, [[40, 48]], [1])
            list(session.propagate())
            calls.clear()
            session.add_points(2, 1, [[50, 48]], [1], clear=False)
            assert len(calls) == 1
            if not reuse:
                session._tracker.forget()  # force a fresh computation
            answers.append(session.add_points(2, 1, [[60, 40]], [0], clear=False))
            assert len(calls) == (1 if reuse else 2)
            # After propagating again the frame's memories may differ: computed anew.
            list(session.propagate(start=2))
            calls.clear()
            session.add_points(3, 1, [[55, 48]], [1], clear=False)
            assert len(calls) == 1
    finally:
        hook.remove()
    np.testing.assert_array_equal(answers[0].low_res_logits, answers[1].low_res_logits)
