"""The batch runner: options, input checks, the label buffer, one stack end to end."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.engine import runner
from napari_sam2.engine.frames import open_frames
from napari_sam2.engine.prompt_file import PromptRecord
from napari_sam2.engine.runner import (
    SegmentOptions,
    check_inputs,
    label_buffer,
    segment_stack,
    set_prompts,
)
from tests.engine.test_session import disc_stack


@pytest.mark.parametrize("kwargs, match", [
    ({"direction": "up"}, "direction"),
    ({"start": -1}, "start"),
    ({"start": 3, "stop": 3}, "empty"),
    ({"fill_hole_area": -1}, "fill_hole_area"),
])
def test_options_are_checked_with_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        SegmentOptions(**kwargs)
    assert "\n" not in str(err.value)


def test_options_are_frozen_and_give_the_range():
    opts = SegmentOptions(start=1)
    with pytest.raises(AttributeError):
        opts.start = 2
    assert opts.frame_range(5) == (1, 5)
    assert SegmentOptions(stop=3).frame_range(5) == (0, 3)
    with pytest.raises(ValueError, match="not within"):
        SegmentOptions(stop=7).frame_range(5)


def test_check_inputs_before_anything_slow():
    frames = open_frames(disc_stack())
    click = PromptRecord(0, 1, points=((40.0, 48.0),), labels=(1,))
    assert check_inputs(frames, [click], SegmentOptions()) == (0, 4)
    with pytest.raises(ValueError, match="outside the frame range 1..3"):
        check_inputs(frames, [click], SegmentOptions(start=1))
    with pytest.raises(ValueError, match="only 4 frame"):
        check_inputs(frames, [PromptRecord(9, 1, points=((1.0, 1.0),), labels=(1,))],
                     SegmentOptions())


def test_label_buffer_in_ram_or_memory_mapped(tmp_path, monkeypatch):
    small = label_buffer((2, 4, 4), 3, tmp_path)
    assert type(small) is np.ndarray and small.dtype == np.uint16 and not small.any()
    assert label_buffer((2, 4, 4), 70_000, None).dtype == np.uint32
    monkeypatch.setattr(runner, "LABELS_IN_RAM_BYTES", 0)
    big = label_buffer((2, 4, 4), 3, tmp_path)
    assert isinstance(big, np.memmap) and (tmp_path / "labels.npy").exists()
    assert type(label_buffer((2, 4, 4), 3, None)) is np.ndarray  # no folder: RAM anyway


class _Recorder:
    def __init__(self):
        self.calls = []

    def set_prompt(self, frame, obj_id, *, box=None, points=None, labels=None):
        self.calls.append((frame, obj_id, box, None if points is None else points.tolist(),
                           None if labels is None else labels.tolist()))


def test_set_prompts_is_one_set_prompt_per_record():
    s = _Recorder()
    set_prompts(s, [PromptRecord(0, 1, points=((1.0, 2.0),), labels=(0,)),
                    PromptRecord(2, 5, box=(1.0, 2.0, 3.0, 4.0))])
    assert s.calls == [(0, 1, None, [[1.0, 2.0]], [0]),
                       (2, 5, (1.0, 2.0, 3.0, 4.0), None, None)]


def _by_hand(model, stack, records, passes):
    """What the command line did before the runner: add_box/add_points, then passes."""
    from napari_sam2 import VideoSession

    session = VideoSession(model, stack)
    for rec in records:
        if rec.box is not None:
            session.add_box(rec.frame, rec.obj_id, rec.box)
        if rec.points:
            session.add_points(rec.frame, rec.obj_id, np.asarray(rec.points, np.float32),
                               np.asarray(rec.labels), clear=rec.box is None)
    labels = np.zeros(stack.shape, np.uint16)
    for begin, reverse, max_frames in passes:
        for r in session.propagate(begin, reverse=reverse, max_frames=max_frames):
            labels[r.frame] = r.to_labels()
    return labels


@pytest.mark.slow
def test_segment_stack_matches_the_session_run_by_hand(small_model, tmp_path, monkeypatch):
    stack = disc_stack(t=5)
    records = [PromptRecord(2, 1, points=((50.0, 48.0),), labels=(1,)),
               PromptRecord(2, 2, points=((100.0, 20.0),), labels=(1,),
                            box=(90.0, 10.0, 110.0, 30.0))]
    seen = []
    monkeypatch.setattr(runner, "LABELS_IN_RAM_BYTES", 0)
    labels = segment_stack(small_model, stack, records,
                           SegmentOptions(direction="both", start=1, stop=4),
                           workdir=tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert isinstance(labels, np.memmap) and labels.dtype == np.uint16
    assert seen == [(i, 4) for i in range(5)]  # 2, 3 forward; 2, 1 backward
    expected = _by_hand(small_model, stack, records, [(2, False, 1), (2, True, 1)])
    np.testing.assert_array_equal(labels, expected)
    assert not labels[[0, 4]].any()  # outside [start, stop): never written
    assert labels[2].any()
    back = segment_stack(small_model, stack, records[:1], SegmentOptions(direction="backward"))
    np.testing.assert_array_equal(back, _by_hand(small_model, stack, records[:1],
                                                 [(2, True, 2)]))
    with pytest.raises(ValueError, match="no prompts"):
        segment_stack(small_model, stack, [], SegmentOptions())
