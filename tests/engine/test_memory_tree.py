"""The rules of the long-stack mode on constructed inputs (no model, no golden data)."""

from __future__ import annotations

import math

import pytest
import torch

from napari_sam2.engine.long_stack import LongStackRun, Pathway
from napari_sam2.engine.memory_bank import Direction, MemoryKind
from napari_sam2.engine.memory_tree import (
    MemoryTree,
    Step,
    key_weights,
    memory_frames,
    prune,
    rank_weights,
    score_candidates,
    select_remembered,
)
from tests.engine.test_memory_bank import bank_with, memory

COND, TRACKED = MemoryKind.CONDITIONING, MemoryKind.TRACKED


def test_settings_are_checked():
    assert MemoryTree() == MemoryTree(3, 0.1, 2.0, (0.95, 1.05), True)
    for bad in (
        {"pathways": 0},
        {"pathways": 1.5},
        {"iou_threshold": 1.0},
        {"uncertainty": -1},
        {"weight_range": (1.1, 1.0)},
    ):
        with pytest.raises(ValueError):
            MemoryTree(**bad)


def test_candidate_score_is_path_score_plus_log_iou_and_iou_is_signed_by_presence():
    ious = torch.tensor([[0.5, 0.9, 0.1], [0.8, 0.2, 0.3]])
    cands = score_candidates([0.0, -1.0], ious, torch.tensor([3.0, -0.5]))
    assert len(cands) == 6
    assert cands[1].score == pytest.approx(math.log(0.9 + 1e-5))
    assert cands[3].score == pytest.approx(-1.0 + math.log(0.8 + 1e-5))
    assert [c.signed_iou for c in cands[3:]] == pytest.approx([-0.8, -0.2, -0.3])


def test_confident_pruning_keeps_the_best_scores():
    tree = MemoryTree(pathways=3, uncertainty=2.0)
    ious = torch.tensor([[0.5, 0.9, 0.1], [0.8, 0.85, 0.3], [0.2, 0.2, 0.2]])
    scores = torch.tensor([2.5, 1.0, 0.0])  # one pathway is sure: the confident branch
    kept = prune(score_candidates([0.0, 0.0, 0.0], ious, scores), scores, tree)
    assert [(c.pathway, c.index) for c in kept] == [(0, 1), (1, 1), (1, 0)]


def test_uncertain_pruning_keeps_distinct_ious_then_fills_from_unused_pathways():
    tree = MemoryTree(pathways=3, uncertainty=2.0)
    ious = torch.tensor([[0.901, 0.899, 0.5], [0.9, 0.4, 0.1]])
    scores = torch.tensor([1.0, -1.0])  # nobody is sure
    kept = prune(score_candidates([0.0, 0.0], ious, scores), scores, tree)
    # 0.901 and 0.899 round to 0.90: only the better is kept; pathway 1's 0.9 is
    # signed negative (object absent there), so it differs.
    assert [(c.pathway, c.index) for c in kept] == [(0, 0), (1, 0), (0, 2)]
    # Three identical answers and nothing else: one per pathway.
    same = torch.full((3, 3), 0.7)
    scores = torch.tensor([0.5, 0.5, 0.5])
    kept = prune(score_candidates([0.0, 0.0, 0.0], same, scores), scores, tree)
    assert [(c.pathway, c.index) for c in kept] == [(0, 0), (1, 0), (2, 0)]


def test_memorable_frames_filter_by_iou_and_presence_and_keep_the_previous_frame():
    tree = MemoryTree(iou_threshold=0.45)
    history = [
        Step(1, 0.9, 1.0),
        Step(2, 0.3, 1.0),
        Step(3, 0.9, -0.5),
        Step(4, 0.6, 2.0),
        Step(5, 0.2, 1.0),
    ]
    assert memory_frames(history, tree, max_pointers=16) == [1, 4, 5]
    long = [Step(f, 0.9, 1.0) for f in range(1, 40)]
    assert memory_frames(long, tree, max_pointers=16) == list(range(25, 40))  # 15 at most
    assert memory_frames([], tree, 16) == []


def test_remembered_selection_slots_and_the_pointer_quirk():
    bank = bank_with(cond=[0], tracked=range(1, 12))
    sel = select_remembered(bank, 1, 12, Direction.FORWARD, [2, 5, 7, 8, 9, 10, 11])
    assert [(s.frame, s.t_pos) for s in sel.spatial] == [
        (0, 0),
        (5, 1),
        (7, 2),
        (8, 3),
        (9, 4),
        (10, 5),
        (11, 6),
    ]
    # Pointers newest first at slot distances 1, 2, ...; the oldest remembered frame (2) never.
    assert [(p.frame, p.distance) for p in sel.pointers] == [
        (0, 12),
        (11, 1),
        (10, 2),
        (9, 3),
        (8, 4),
        (7, 5),
        (5, 6),
    ]
    few = select_remembered(bank, 1, 3, Direction.FORWARD, [2])
    assert [(s.frame, s.t_pos) for s in few.spatial] == [(0, 0), (2, 6)]
    assert [p.frame for p in few.pointers] == [0]


def test_weight_ramp_by_rank_and_when_nothing_is_scaled():
    assert rank_weights([0.3, 10.0, -2.0], 0.95, 1.05) == pytest.approx([1.0, 1.05, 0.95])
    assert rank_weights([4.0], 0.95, 1.05) == pytest.approx(
        [0.95]
    )  # a lone pointer gets the low end
    bank = bank_with(cond=[0], tracked=range(1, 4))
    sel = select_remembered(bank, 1, 4, Direction.FORWARD, [1, 2, 3])
    scores = {1: 0.5, 2: -1.0, 3: 3.0}
    w = key_weights(sel, scores.__getitem__, MemoryTree())
    assert w[:4] == pytest.approx(
        [1.05, 0.95 + 0.1 / 3, 0.95, 0.95 + 0.2 / 3]
    )  # frames 0 (prompted), 1, 2, 3
    assert w[4:] == pytest.approx([1.05, 1.0, 0.95])  # pointers of 0, 3, 2
    single = select_remembered(bank, 1, 1, Direction.FORWARD, [])
    assert key_weights(single, scores.__getitem__, MemoryTree()) is None
    assert key_weights(sel, scores.__getitem__, MemoryTree(weight_range=None)) is None


def test_finish_adopts_the_best_path_and_names_the_frames_that_changed():
    bank = bank_with(cond=[0])
    run = LongStackRun(bank, tracker=None, tree=MemoryTree(pathways=2), direction=Direction.FORWARD)
    a, b = bank.fork([1]), bank.fork([1])
    for f in (1, 2, 3):
        a.store_tracked(1, f, memory(f))
    b.store_tracked(1, 1, memory(10))
    b.store_tracked(1, 2, memory(20))
    b.store_tracked(1, 3, memory(30))
    run.pathways[1] = [Pathway(a, -1.0, []), Pathway(b, -0.5, [])]
    run.visited[1] = [1, 2, 3]
    for f in (1, 2, 3):  # what was shown during the run: pathway a's masks
        bank.adopt(1, f, a)
    assert run.best(1) is run.pathways[1][1]
    assert run.finish() == [1, 2, 3]
    assert [float(bank.memory(1, f, TRACKED).features[0, 0, 0, 0]) for f in (1, 2, 3)] == [
        10.0,
        20.0,
        30.0,
    ]
    assert run.pathways == {}
    assert bank.num_stored == 4  # frame 0 and b's three frames; a's were released
