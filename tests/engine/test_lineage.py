"""TrackGraph verbs and the re-seeding rule (pure numpy, no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_sam2.engine.lineage import (
    Detection,
    ReseedRules,
    TrackGraph,
    decide_reseed,
)


def disc(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def test_graph_verbs_keep_tracks_continuous_and_divisions_after_the_mother():
    g = TrackGraph()
    g.start_track(1, 0)
    for f in range(3):
        g.record(1, Detection.of_mask(f, disc((20, 20), 10, 10, 3), 4.0, 0.8))
    with pytest.raises(ValueError, match="gap"):
        g.record(1, Detection.of_mask(5, disc((20, 20), 10, 10, 3)))
    g.end_track(1)
    with pytest.raises(ValueError, match="ended"):
        g.record(1, Detection.of_mask(3, disc((20, 20), 10, 10, 3)))
    with pytest.raises(ValueError, match="not after"):
        g.start_track(2, 2, parent=1)
    g.start_track(3, 3, parent=1)
    g.start_track(4, 3, parent=1)
    assert g.parents() == {3: 1, 4: 1}
    assert g.divisions() == [(1, (3, 4))]
    frames, scores, ious = g.track(1).confidence()
    assert frames.tolist() == [0, 1, 2] and scores.tolist() == [4.0] * 3
    assert np.allclose(ious, 0.8)
    det = g.track(1).detections[0]
    assert det.area == disc((20, 20), 10, 10, 3).sum() and det.centroid == (10.0, 10.0)
    with pytest.raises(ValueError, match="empty"):
        Detection.of_mask(0, np.zeros((4, 4), bool))


def test_graph_from_labels_reads_tracks_and_parents():
    labels = np.zeros((4, 20, 20), np.uint16)
    labels[:2][:, disc((20, 20), 10, 10, 4)] = 1
    labels[2:][:, disc((20, 20), 5, 10, 3)] = 2
    labels[2:][:, disc((20, 20), 15, 10, 3)] = 3
    g = TrackGraph.from_labels(labels, {2: 1, 3: 1})
    assert g.table() == [(1, 0, 1, 0), (2, 2, 3, 1), (3, 2, 3, 1)]
    assert math.isnan(g.track(2).detections[2].iou)


def test_reseed_finds_new_cells_and_the_daughters_of_an_ended_track():
    shape = (40, 40)
    tracked = np.zeros(shape, np.uint16)
    tracked[disc(shape, 8, 8, 4)] = 5  # a live track
    seeds = np.zeros(shape, np.uint16)
    seeds[disc(shape, 8, 8, 4)] = 1  # covered by track 5
    seeds[disc(shape, 30, 30, 4)] = 2  # new, far from anything: a cell entering
    seeds[disc(shape, 20, 14, 3)] = 3  # daughters inside the ended track's outline
    seeds[disc(shape, 20, 22, 3)] = 4
    mother = disc(shape, 20, 18, 7)
    d = decide_reseed(tracked, seeds, {9: mother}, ReseedRules(min_area=5))
    assert d.new == (2, 3, 4) and d.splits == ()
    assert d.divisions == ((9, (3, 4)),)


def test_a_track_covering_two_seeds_splits_into_daughters():
    shape = (40, 40)
    tracked = np.zeros(shape, np.uint16)
    tracked[disc(shape, 20, 20, 10)] = 7
    seeds = np.zeros(shape, np.uint16)
    seeds[disc(shape, 20, 15, 4)] = 1
    seeds[disc(shape, 20, 25, 4)] = 2
    seeds[disc(shape, 2, 2, 1)] = 3  # below min_area: ignored
    d = decide_reseed(tracked, seeds, {}, ReseedRules(min_area=10))
    assert d.splits == (7,) and d.new == (1, 2) and d.divisions == ((7, (1, 2)),)


def test_rules_are_checked():
    with pytest.raises(ValueError, match="cover"):
        ReseedRules(cover=0)
    with pytest.raises(ValueError, match="differ"):
        decide_reseed(np.zeros((3, 3)), np.zeros((4, 4)), {})
