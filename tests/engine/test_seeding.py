"""Seeds from label images and track-all runs (stand-in weights at 256, and a perfect oracle)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.engine.lineage import ReseedRules
from napari_sam2.engine.seeding import LabelStack, label_image_of, label_masks, seed_from_labels
from napari_sam2.engine.session import VideoSession
from napari_sam2.engine.synthetic import StackSpec, make_stack
from napari_sam2.engine.track_all import TrackAllOptions, run_track_all, track_all
from tests.engine._oracle import OracleSession

SPEC = StackSpec(frames=10, size=(96, 96), cells=(2, 3), radius=(8, 12), cycle=6,
                 enter_leave=False)


@pytest.fixture(scope="module")
def stack():
    s = make_stack(SPEC, 5)  # two divisions: 1 -> 3, 4 on frame 5; 2 -> 5, 6 on frame 7
    assert s.parents == {3: 1, 4: 1, 5: 2, 6: 2}
    return s


def test_sources_give_label_images():
    labels = np.arange(12, dtype=np.uint16).reshape(3, 2, 2)

    class Generator:  # what the automatic mask generator offers
        def label_image(self, frame):
            return labels[frame]

    assert label_image_of(Generator(), 1).tolist() == labels[1].tolist()
    assert label_image_of(lambda f: labels[f] * 2, 2).tolist() == (labels[2] * 2).tolist()
    assert label_image_of(LabelStack(labels), 0).tolist() == labels[0].tolist()
    assert label_image_of(LabelStack(labels[0]), 7).tolist() == labels[0].tolist()
    with pytest.raises(ValueError, match="callable"):
        label_image_of(labels, 0)
    with pytest.raises(ValueError, match="integers"):
        LabelStack(labels.astype(float))
    masks = label_masks(np.array([[0, 1, 1], [2, 0, 1]]), min_area=2)
    assert list(masks) == [1] and masks[1].sum() == 3


def test_every_label_becomes_an_object_on_several_frames(small_model, stack):
    session = VideoSession(small_model, stack.image)
    first = seed_from_labels(session, 0, stack.labels[0])
    assert sorted(first.values()) == sorted(np.unique(stack.labels[0][stack.labels[0] > 0]))
    later = seed_from_labels(session, 6, stack.labels[6], ids="new")
    assert min(later.values()) > max(first.values())
    for obj in first.values():
        assert session.prompted_frames(obj) == [0]
    result = session.result(0)
    for label, obj in first.items():  # a mask prompt shows the label's own mask
        iou = (result.mask_of(obj) & (stack.labels[0] == label)).sum() / \
            (result.mask_of(obj) | (stack.labels[0] == label)).sum()
        assert iou > 0.7
    with pytest.raises(ValueError, match="shape"):
        seed_from_labels(session, 0, stack.labels[0][:10])


def test_non_overlap_gives_each_pixel_to_one_object(small_model, stack):
    session = VideoSession(small_model, stack.image[:2], non_overlap=True)
    seed_from_labels(session, 0, stack.labels[0])
    seed_from_labels(session, 0, (stack.labels[0] > 0) * 50)  # one object over all the cells
    for result in session.propagate(0, max_frames=1):
        assert result.masks.sum(axis=0).max() <= 1
    session.non_overlap = False
    assert session.result(0).masks.sum(axis=0).max() == 2  # the seeds do overlap


def test_track_all_with_the_model_gives_a_consistent_lineage(small_model, stack, tmp_path):
    seen = []
    result = track_all(small_model, stack.image, LabelStack(stack.labels),
                       TrackAllOptions(stop=4, reseed_every=2, rules=ReseedRules(min_area=5)),
                       progress=lambda d, t: seen.append((d, t)))
    labels, graph = result.labels, result.graph
    assert labels.shape == stack.labels.shape and seen[-1] == (4, 4)
    assert not labels[4:].any()
    assert graph.track_ids and set(np.unique(labels[labels > 0])) <= set(graph.track_ids)
    for tid, first, last, parent in graph.table():
        present = [f for f in range(4) if (labels[f] == tid).any()]
        assert present == list(range(first, last + 1))
        if parent:
            assert graph.track(parent).last < first
        frames, scores, ious = graph.track(tid).confidence()
        assert np.isfinite(scores).all()
        assert np.isfinite(ious[frames != first]).all()  # tracked frames have a predicted IoU
    # The result reads back in traccuracy (CTC) and geff.
    import geff
    from traccuracy.loaders import load_ctc_data

    from napari_sam2.export_lineage import write_geff, write_lineage_ctc

    write_lineage_ctc(tmp_path / "RES", labels[:4], graph)
    loaded = load_ctc_data(str(tmp_path / "RES"), str(tmp_path / "RES" / "res_track.txt"))
    assert loaded.graph.number_of_nodes() == sum(len(graph.track(t).frames)
                                                 for t in graph.track_ids)
    g, _ = geff.read(str(write_geff(tmp_path / "run.geff", graph)))
    assert g.number_of_nodes() == loaded.graph.number_of_nodes()


def test_track_all_with_a_perfect_tracker_recovers_the_lineage(stack):
    oracle = OracleSession(stack.labels)
    options = TrackAllOptions(reseed_every=1, rules=ReseedRules(min_area=1))
    result = run_track_all(oracle, LabelStack(stack.labels), options)
    graph = result.graph
    assert len(graph.divisions()) == 2
    truth_of = {}
    for tid in graph.track_ids:  # every track is one true cell, frame for frame
        f = graph.track(tid).frames[0]
        truth_of[tid] = int(np.bincount(stack.labels[f][result.labels[f] == tid]).argmax())
        assert ((result.labels == tid) == (stack.labels == truth_of[tid])).all()
    parents = {truth_of[d]: truth_of[m] for d, m in graph.parents().items()}
    assert parents == stack.parents


def test_reseeding_every_k_frames_only_there(stack):
    oracle = OracleSession(stack.labels)
    calls = []

    def seeds(frame):
        calls.append(frame)
        return stack.labels[frame]

    run_track_all(oracle, seeds, TrackAllOptions(reseed_every=4, rules=ReseedRules(min_area=1)))
    assert calls == [0, 4, 8]
    assert oracle.propagated[0] == (1, 3)


def test_options_are_checked():
    with pytest.raises(ValueError, match="reseed_every"):
        TrackAllOptions(reseed_every=0)
    with pytest.raises(ValueError, match="empty"):
        TrackAllOptions(start=3, stop=3)
    with pytest.raises(ValueError, match="within"):
        TrackAllOptions(stop=30).frame_range(10)


def test_long_stack_mode_keeps_the_predicted_iou_too(small_model, stack):
    from napari_sam2.engine.memory_tree import MemoryTree

    session = VideoSession(small_model, stack.image[:3], memory_tree=MemoryTree(pathways=2))
    seed_from_labels(session, 0, stack.labels[0])
    results = list(session.propagate(0))
    assert np.isnan(results[0].ious).all()  # a mask prompt has no predicted IoU
    assert all(np.isfinite(r.ious).all() for r in results[1:])
