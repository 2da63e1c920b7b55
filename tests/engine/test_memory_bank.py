"""SAM 2's memory-selection rules on constructed banks (no model, no golden data)."""

from __future__ import annotations

import pytest
import torch

from napari_sam2.engine.memory_bank import (
    Direction,
    FrameMemory,
    MemoryBank,
    MemoryKind,
    MemoryRules,
)
from napari_sam2.engine.prompts import make_points
from napari_sam2.engine.store import TensorStore

COND, TRACKED = MemoryKind.CONDITIONING, MemoryKind.TRACKED
FWD, BWD = Direction.FORWARD, Direction.BACKWARD


def memory(frame: int, features: bool = True) -> FrameMemory:
    """A memory whose tensors carry its frame number, to check what is gathered."""
    full = torch.full
    return FrameMemory(
        mask_logits=full((1, 1, 4, 4), float(frame)),
        obj_ptr=full((1, 8), float(frame)),
        object_score=full((1, 1), 1.0),
        features=full((1, 2, 2, 2), float(frame)) if features else None,
    )


def bank_with(cond=(), tracked=(), num_frames=40, signed=True, store=None, obj_id=1) -> MemoryBank:
    bank = MemoryBank(
        store if store is not None else TensorStore(1 << 30),
        MemoryRules(num_frames, signed_pointer_distance=signed),
    )
    add(bank, obj_id, cond, tracked)
    return bank


def add(bank: MemoryBank, obj_id: int, cond=(), tracked=()) -> None:
    bank.add_object(obj_id)
    for f in cond:
        bank.record_prompt(obj_id, f, make_points([[1, 1]], [1], (8, 8)), memory(f, features=False))
    if cond:
        bank.commit_prompted(lambda f, shown: memory(f))
    for f in tracked:
        bank.store_tracked(obj_id, f, memory(f))


def spatial(sel):
    return [(s.frame, s.kind, s.t_pos) for s in sel.spatial]


def pointers(sel):
    return [(p.frame, p.kind, p.distance) for p in sel.pointers]


def test_conditioning_frames_always_attended_at_slot_zero():
    bank = bank_with(cond=[0, 30], tracked=range(1, 20))
    sel = bank.select(1, 20, FWD)
    assert [s for s in spatial(sel) if s[1] is COND] == [(0, COND, 0), (30, COND, 0)]
    # Far from every recent frame, in either direction, they are still there.
    assert [s[0] for s in spatial(bank.select(1, 39, FWD))] == [0, 30]


def test_six_most_recent_tracked_frames_in_the_direction_of_travel():
    bank = bank_with(cond=[0], tracked=range(1, 16))
    sel = bank.select(1, 15, FWD)
    recent = [s for s in spatial(sel) if s[1] is TRACKED]
    # Slot 6 is the nearest frame, slot 1 the farthest of the six.
    assert recent == [
        (9, TRACKED, 1),
        (10, TRACKED, 2),
        (11, TRACKED, 3),
        (12, TRACKED, 4),
        (13, TRACKED, 5),
        (14, TRACKED, 6),
    ]


def test_gaps_leave_their_slots_empty():
    bank = bank_with(cond=[0], tracked=[10, 12, 14])
    assert [s[2] for s in spatial(bank.select(1, 15, FWD))] == [0, 2, 4, 6]


def test_reverse_propagation_looks_at_later_frames():
    bank = bank_with(cond=[30], tracked=range(16, 30))
    sel = bank.select(1, 15, BWD)
    assert [(f, t) for f, _, t in spatial(sel)] == [
        (30, 0),
        (21, 1),
        (20, 2),
        (19, 3),
        (18, 4),
        (17, 5),
        (16, 6),
    ]
    assert pointers(sel)[:3] == [(30, COND, 15), (16, TRACKED, 1), (17, TRACKED, 2)]
    # Forward from the same frame, the later frames are not "the past".
    assert [s[0] for s in spatial(bank.select(1, 15, FWD))] == [30]


def test_pointers_conditioning_in_the_past_then_fifteen_tracked_steps():
    bank = bank_with(cond=[2, 38], tracked=[f for f in range(3, 38)])
    sel = bank.select(1, 30, FWD)
    ptrs = pointers(sel)
    assert ptrs[0] == (2, COND, 28)  # the future prompt on 38 gives no pointer
    assert [p[2] for p in ptrs[1:]] == list(range(1, 16))  # max_obj_ptrs 16 -> distances 1..15
    assert [p[0] for p in ptrs[1:]] == list(range(29, 14, -1))
    assert sel.max_distance == 15


def test_pointer_distances_signed_and_unsigned():
    # Only past prompts give pointers at inference, so SAM 2.1's signed
    # distance and SAM 2's absolute distance agree, backward as forward.
    for direction, frame in ((FWD, 25), (BWD, 5)):
        signed = pointers(bank_with(cond=[15], signed=True).select(1, frame, direction))
        unsigned = pointers(bank_with(cond=[15], signed=False).select(1, frame, direction))
        assert signed == unsigned == [(15, COND, 10)]


def test_pointers_stop_at_the_edge_of_the_stack_and_short_stacks_shrink_the_range():
    bank = bank_with(cond=[0], tracked=range(1, 5), num_frames=6)
    sel = bank.select(1, 5, FWD)
    assert [p[2] for p in pointers(sel)] == [5, 1, 2, 3, 4]
    assert sel.max_distance == 5  # min(num_frames, 16) - 1
    sel = bank.select(1, 1, FWD)  # looking back from frame 1 reaches frame 0, then the edge
    assert [p[:2] for p in pointers(sel)] == [(0, COND)]


def test_tracked_memory_without_features_gives_a_pointer_only():
    bank = bank_with(cond=[0])
    bank.store_tracked(1, 4, memory(4, features=False))
    sel = bank.select(1, 5, FWD)
    assert 4 not in [s.frame for s in sel.spatial]
    assert (4, TRACKED, 1) in pointers(sel)


def test_a_dropped_memory_is_not_selected_and_is_forgotten():
    entry_bytes = 4 * 16 + 4 * 8  # mask logits + features of one memory
    store = TensorStore(3 * entry_bytes, on_evict="drop")
    bank = bank_with(cond=[0], tracked=[1, 2, 3], store=store)
    assert 0 not in [s.frame for s in bank.select(1, 4, FWD).spatial]  # the oldest entry went first
    assert [s.frame for s in bank.select(1, 4, FWD).spatial] == [1, 2, 3]
    assert bank.memory(1, 0, COND) is None
    assert not bank.is_conditioning(1, 0)  # forgotten: that frame must be prompted or tracked again


def test_selection_is_frozen_and_gathered_in_batches():
    bank = bank_with(cond=[0], tracked=[1, 2])
    add(bank, 2, cond=[0], tracked=[1, 2])
    add(bank, 3, cond=[0], tracked=[2])
    a, b, c = (bank.select(i, 3, FWD) for i in (1, 2, 3))
    with pytest.raises(AttributeError):
        a.frame = 4
    assert a.structure == b.structure != c.structure
    prompt = bank.gather([a, b])
    assert [t_pos for _, t_pos in prompt.spatial] == [0, 5, 6]
    assert [tuple(f.shape) for f, _ in prompt.spatial] == [(2, 2, 2, 2)] * 3
    assert prompt.spatial[2][0][:, 0, 0, 0].tolist() == [
        2.0,
        2.0,
    ]  # frame 2's features, both objects
    assert [d for _, d in prompt.pointers] == [3, 1, 2]
    with pytest.raises(ValueError, match="different structure"):
        bank.gather([a, c])


def test_prompts_commit_as_conditioning_and_clearing_keeps_the_mask_as_tracked():
    bank = bank_with(cond=[3], tracked=[4])
    assert bank.prompted_frames(1) == [3] and bank.is_conditioning(1, 3)
    rev = bank.revision(1)
    bank.clear_prompt(1, 3)
    assert bank.prompted_frames(1) == [] and not bank.is_conditioning(1, 3)
    assert bank.memory(1, 3, TRACKED).features[0, 0, 0, 0] == 3.0
    assert bank.revision(1) > rev
    assert bank.frames_with_masks(1) == [3, 4]
    with pytest.raises(ValueError, match="object 1 has no prompts"):
        bank.commit_prompted(lambda f, shown: memory(f))


def test_visits_are_recorded_per_object_with_their_direction():
    bank = bank_with(cond=[0])
    add(bank, 2, cond=[0])
    bank.mark_visited(5, BWD)
    assert bank.visited(1, 5) is BWD and bank.visited(2, 5) is BWD and bank.visited(1, 4) is None
    bank.remove_object(2)
    assert bank.obj_ids == [1]


def test_fork_shares_stored_tensors_and_diverges_on_write():
    bank = bank_with(cond=[0], tracked=[1, 2, 3])
    stored = bank.num_stored
    fork = bank.fork()
    assert fork.num_stored == stored  # no memory features were copied
    assert fork.memory(1, 2, TRACKED).features is bank.memory(1, 2, TRACKED).features
    fork.store_tracked(1, 4, memory(40))  # a hypothesis of the fork only
    fork.store_tracked(1, 3, memory(30))  # rewrites a shared frame: the original keeps its own
    assert bank.memory(1, 4, TRACKED) is None
    assert bank.memory(1, 3, TRACKED).features[0, 0, 0, 0] == 3.0
    assert fork.memory(1, 3, TRACKED).features[0, 0, 0, 0] == 30.0
    assert bank.num_stored == stored + 2
    bank.remove_object(1)  # the fork still holds the shared tensors
    assert fork.memory(1, 2, TRACKED).features[0, 0, 0, 0] == 2.0
    assert fork.num_stored == 5  # frames 0..4 of the fork
    fork.reset()
    assert fork.num_stored == 0 and len(fork.store) == 0


def test_choose_candidate_replaces_the_shown_mask_and_its_memory():
    from napari_sam2.engine.memory_bank import Candidates

    bank = bank_with()
    bank.add_object(1)
    cands = Candidates(
        torch.stack([torch.full((4, 4), float(i)) for i in range(3)]),
        torch.tensor([0.1, 0.9, 0.5]),
        torch.zeros(3, 8),
        torch.ones(1, 1),
        chosen=1,
    )
    bank.record_prompt(1, 0, make_points([[1, 1]], [1], (8, 8)), cands.memory(1), cands)
    bank.commit_prompted(
        lambda f, shown: FrameMemory(
            shown.mask_logits, shown.obj_ptr, shown.object_score, shown.mask_logits[:, :, :2, :2]
        )
    )
    assert bank.is_conditioning(1, 0)
    shown = bank.choose_candidate(1, 0, 2)
    assert not bank.is_conditioning(1, 0)  # encoded again from the new mask on the next commit
    assert bank.latest(1, 0) is shown and float(shown.mask_logits.max()) == 2.0
    assert bank.candidates(1, 0).chosen == 2
