"""Encode-ahead: the next frame's input is prepared in the background, results unchanged."""

import threading

import numpy as np
import pytest
import torch

from napari_sam2 import VideoSession
from napari_sam2.engine.read_ahead import FrameInputs
from tests.engine.test_session import disc_stack


def test_results_identical_with_and_without_read_ahead(small_model):
    runs = {}
    for ahead in (True, False):
        session = VideoSession(small_model, disc_stack(t=5), read_ahead=ahead)
        session.add_points(0, 1, [[40, 48]], [1])
        runs[ahead] = (list(session.propagate(0)), session.inputs.hits)
    (with_, hits), (without, no_hits) = runs[True], runs[False]
    assert hits == 4 and no_hits == 0  # frames 1..4 were read ahead
    assert [r.frame for r in with_] == [r.frame for r in without]
    for a, b in zip(with_, without):
        np.testing.assert_array_equal(a.low_res_logits, b.low_res_logits)
        np.testing.assert_array_equal(a.masks, b.masks)


def test_reads_never_overlap_and_errors_reach_only_their_frame():
    active, overlaps, read, release = [0], [], [], threading.Event()

    def load(frame):
        active[0] += 1
        overlaps.append(active[0] > 1)
        if frame == 1:
            release.wait(5)
        read.append(frame)
        active[0] -= 1
        if frame == 7:
            raise ValueError("frame 7 is broken")
        return torch.full((1,), float(frame))

    inputs = FrameInputs(load)
    inputs.ahead(1)
    inputs.ahead(2)
    inputs.ahead(2)  # already queued
    threading.Timer(0.05, release.set).start()
    assert inputs.get(3).item() == 3  # read after the queued ones
    assert inputs.get(2).item() == 2 and read == [1, 2, 3]
    inputs.ahead(7)
    assert inputs.get(4).item() == 4  # frame 7's error is not frame 4's
    with pytest.raises(ValueError, match="frame 7"):
        inputs.get(7)
    assert not any(overlaps)
    assert inputs.hits == 2


def test_at_most_two_frames_wait():
    inputs = FrameInputs(lambda f: torch.tensor([f]))
    for f in range(5):
        inputs.ahead(f)
    assert len(inputs._pending) == FrameInputs.MAX_AHEAD


def test_disabled_reads_on_demand():
    inputs = FrameInputs(lambda f: torch.tensor([f]), enabled=False)
    inputs.ahead(1)
    assert inputs.get(1).item() == 1 and inputs.hits == 0
