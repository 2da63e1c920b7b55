"""Fuzzed prompts: clicks, boxes and masks either validate or fail cleanly.

``make_points`` / ``make_box`` / ``make_mask`` get coordinates on and off the
frame, NaN, wrong shapes, odd label values, degenerate / reversed / off-frame
boxes and masks of the wrong shape or dtype. Valid prompts must come out
well formed (finite, inside the frame, labels 0/1 or box corners 2/3) and
convert for the model. A video session fed bad prompts keeps no trace of them
and answers the next good click.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_sam2.engine.prompts import BOX_LABELS, make_box, make_mask, make_points

from ._fuzz import attempt, check_error

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FRAME = (12, 20)  # (H, W)

coord = st.one_of(st.floats(-5, 25), st.floats(), st.integers(-30, 30))
frame_shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))
junk = st.one_of(st.none(), st.text(max_size=3), st.booleans(), st.dictionaries(st.text(max_size=1),
                 st.integers(), max_size=1), st.just(object()), st.lists(st.text(max_size=1),
                 max_size=2))
point_lists = st.one_of(
    st.lists(st.tuples(coord, coord), max_size=4),
    st.lists(st.lists(coord, max_size=3), max_size=3),  # ragged / wrong widths
    hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.bool_]),
               hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)),
    junk,
)
labels = st.one_of(
    st.lists(st.sampled_from([0, 1, 1, 2, -1, 0.5, 1.0, True, np.nan]), max_size=4),
    hnp.arrays(st.sampled_from([np.int32, np.float64, np.bool_]),
               hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4)),
    junk,
)


def _inside(coords, frame_shape):
    h, w = frame_shape
    return ((coords >= 0).all() and (coords[:, 0] <= w).all() and (coords[:, 1] <= h).all())


@FUZZ
@given(points=point_lists, labels=labels, frame_shape=frame_shapes)
def test_make_points_fuzz(points, labels, frame_shape):
    prompt = attempt(make_points, points, labels, frame_shape)
    if prompt is None:
        return
    assert prompt.coords.dtype == np.float32 and prompt.coords.ndim == 2
    assert prompt.coords.shape == (prompt.num_points, 2) and prompt.num_points >= 1
    assert np.isfinite(prompt.coords).all() and _inside(prompt.coords, frame_shape)
    assert set(prompt.labels.tolist()) <= {0, 1} and not prompt.has_box
    coords, labs = prompt.to_model(frame_shape, 64, "cpu")
    assert coords.shape == (1, prompt.num_points, 2) and labs.shape == (1, prompt.num_points)


@FUZZ
@given(box=st.one_of(st.lists(coord, min_size=3, max_size=5), st.tuples(coord, coord, coord, coord),
                     point_lists), frame_shape=frame_shapes)
def test_make_box_fuzz(box, frame_shape):
    prompt = attempt(make_box, box, frame_shape)
    if prompt is None:
        return
    (x0, y0), (x1, y1) = prompt.coords.tolist()
    assert x0 <= x1 and y0 <= y1 and _inside(prompt.coords, frame_shape)
    assert tuple(prompt.labels.tolist()) == BOX_LABELS and prompt.has_box


MASK_DTYPES = [np.bool_, np.uint8, np.int16, np.float32, np.float64, np.complex64, np.str_,
               np.object_]


@st.composite
def masks(draw):
    h, w = FRAME
    shape = draw(st.one_of(st.just(FRAME), st.just((w, h)), st.just((h, w, 1)),
                           hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
    dtype = draw(st.sampled_from(MASK_DTYPES))
    if dtype == np.object_:
        return np.full(shape, None, dtype=object)
    return draw(hnp.arrays(dtype, shape))


@FUZZ
@given(mask=st.one_of(masks(), junk))
def test_make_mask_fuzz(mask):
    prompt = attempt(make_mask, mask, FRAME)
    if prompt is None:
        return
    assert prompt.mask.shape == FRAME and prompt.mask.dtype == bool
    m = prompt.to_model(32, "cpu")
    assert m.shape == (1, 1, 32, 32) and set(torch.unique(m).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("call", [
    lambda: make_points([[1, 2]], [1, 1], FRAME),
    lambda: make_points([[np.nan, 2]], [1], FRAME),
    lambda: make_points([[21, 2]], [1], FRAME),
    lambda: make_points([[1, 2], [3]], [1, 1], FRAME),
    lambda: make_points("here", [1], FRAME),
    lambda: make_points([[1, 2]], [2], FRAME),
    lambda: make_box(np.zeros((2, 3)), FRAME),
    lambda: make_box([0, 0, 30, 5], FRAME),
    lambda: make_mask(np.zeros(FRAME, complex), FRAME),
    lambda: make_mask(np.full(FRAME, np.inf), FRAME),
    lambda: make_mask(np.zeros((20, 12), bool), FRAME),
])
def test_bad_prompts_say_what_is_wrong(call):
    with pytest.raises(ValueError) as info:
        call()
    check_error(info.value)


# --- a session stays usable ------------------------------------------------

off = st.one_of(st.floats(-50, -0.01), st.floats(20.01, 90), st.just(np.nan), st.just(np.inf))
bad_points = st.one_of(
    st.tuples(st.lists(st.tuples(off, st.floats(0, 12)), min_size=1, max_size=3)),
    st.tuples(st.lists(st.tuples(st.floats(0, 20), st.floats(12.01, 50)), min_size=1, max_size=2)),
    st.tuples(st.just([[1.0, 2.0, 3.0]])),
    st.tuples(st.just("x")),
)
bad_calls = st.one_of(
    st.tuples(st.just("add_points"), bad_points, st.just([1])),
    st.tuples(st.just("add_points"), st.just([[3.0, 4.0]]), st.sampled_from([[2], [1, 1], ["a"],
                                                                              [np.nan]])),
    st.tuples(st.just("add_box"), st.one_of(st.tuples(off, off, off, off), st.just([1, 2, 3]),
                                            st.just("box"))),
    st.tuples(st.just("add_mask"), st.sampled_from(
        [np.ones((20, 12), bool), np.ones(FRAME, complex), np.full(FRAME, np.nan), "mask"])),
    st.tuples(st.just("set_prompt_box"), st.just([0, 0, 5, 5]), bad_points),
)


def test_session_survives_bad_prompts(small_model):
    from napari_sam2.engine.session import VideoSession

    rng = np.random.default_rng(0)
    stack = rng.integers(0, 50, (2, *FRAME), dtype=np.uint8)
    stack[:, 3:9, 5:14] = 200
    session = VideoSession(small_model, stack)

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(call=bad_calls, frame=st.sampled_from([0, 1, 0, 1, -1, 2, 1.0, "0"]),
           obj=st.sampled_from([1, 1, 2, -1, 1.5]))
    def feed(call, frame, obj):
        name, *args = call
        with pytest.raises(Exception) as info:
            if name == "set_prompt_box":
                session.set_prompt(frame, obj, box=args[0], points=args[1][0], labels=[1])
            else:
                getattr(session, name)(frame, obj, *args)
        check_error(info.value)

    feed()
    assert session.obj_ids == []  # no half-made objects
    result = session.add_points(0, 1, [[9, 6]], [1])
    assert result.obj_ids == (1,) and result.masks.shape == (1, *FRAME)
    assert session.prompted_frames(1) == [0]
