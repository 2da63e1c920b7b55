"""Each object's object score and predicted IoU along the frames."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.engine.confidence import ConfidenceTrack, LowConfidence, confidence_tracks
from napari_sam2.engine.session import VideoSession
from tests.engine.test_session import disc_stack


def test_scores_follow_the_propagation(small_model):
    session = VideoSession(small_model, disc_stack(t=5))
    click = session.add_points(1, 1, [[45, 48]], [1])
    session.add_box(3, 2, [90, 10, 120, 40])
    tracks = confidence_tracks(session)
    assert sorted(tracks) == [1, 2]
    assert tracks[1].frames.tolist() == [1] and tracks[1].prompted.tolist() == [True]
    assert tracks[1].object_score[0] == pytest.approx(float(click.object_score_logits[0]))
    assert 0.0 <= tracks[1].iou[0] <= 1.5  # the IoU head's raw output
    results = {r.frame: r for r in session.propagate_both()}
    tracks = confidence_tracks(session)
    assert tracks[1].frames.tolist() == [0, 1, 2, 3, 4]
    assert tracks[1].prompted.tolist() == [False, True, False, False, False]
    assert tracks[2].prompted.tolist() == [False, False, False, True, False]
    for f, res in results.items():
        i = res.obj_ids.index(1)
        assert tracks[1].object_score[f] == pytest.approx(float(res.object_score_logits[i]))
    assert np.isfinite(tracks[1].iou).all()
    assert confidence_tracks(session, [2])[2].frames.tolist() == [0, 1, 2, 3, 4]


def test_mask_prompt_has_no_iou(small_model):
    session = VideoSession(small_model, disc_stack())
    mask = np.zeros((96, 128), bool)
    mask[40:60, 30:50] = True
    session.add_mask(0, 1, mask)
    assert np.isnan(confidence_tracks(session)[1].iou[0])


def test_low_confidence_rule():
    track = ConfidenceTrack(
        1,
        np.arange(5),
        np.array([5.0, 5.0, 0.5, -5.0, 5.0]),
        np.array([0.9, 0.4, 0.9, 0.1, np.nan]),
        np.array([True, False, False, False, False]),
    )
    assert track.low_frames() == [1, 2]  # weak IoU while shown; score near the boundary
    assert track.low_frames(LowConfidence(min_iou=0.3, score_margin=0.1)) == []
    assert track.presence[0] == pytest.approx(1 / (1 + np.exp(-5)))
    with pytest.raises(ValueError, match="min_iou"):
        LowConfidence(min_iou=2)
