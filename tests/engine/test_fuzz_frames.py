"""Fuzzed frame sources and preprocessing: every input works or fails cleanly.

See ``_fuzz.py`` for what failing cleanly means. Working means: the source has
at least one non-empty frame, every frame reads as ``(H, W)`` or ``(H, W, 3)``,
and ``to_model_input`` turns it into a finite ``(1, 3, S, S)`` tensor (or
refuses NaN / infinite pixels with a clean error).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_sam2.engine.frames import FrameSource, open_frames
from napari_sam2.engine.preprocess import MODES, Normalization, to_model_input

from ._fuzz import attempt, check_error, strict

SIZE = 16  # model input size for to_model_input: small and fast
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = [np.bool_, np.uint8, np.uint16, np.uint32, np.int8, np.int16, np.int32, np.int64,
          np.float16, np.float32, np.float64]

# Mostly tiny shapes, sometimes an RGB-sized image (napari guesses RGB above 30 px).
small_shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
rgb_shapes = st.tuples(st.integers(1, 2), st.just(31), st.integers(31, 33), st.sampled_from([3, 4]))
shapes = st.one_of(small_shapes, small_shapes, rgb_shapes, rgb_shapes.map(lambda s: s[1:]))


@st.composite
def stacks(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(shapes)
    if draw(st.booleans()):  # constant frames, often
        value = draw(hnp.from_dtype(dtype))
        return np.full(shape, value, dtype)
    return draw(hnp.arrays(dtype, shape))


def junk():
    return st.one_of(st.text(max_size=2), st.floats(allow_nan=True), st.none(),
                     st.lists(st.integers(-2, 2), max_size=2), st.booleans())


axes = st.integers(-5, 5)
open_kwargs = st.fixed_dictionaries({}, optional={
    "frame_axis": st.one_of(axes, axes, junk()),
    "channel": st.one_of(st.none(), st.integers(-5, 5), junk()),
    "channel_axis": st.one_of(st.none(), axes, junk()),
    "rgb": st.one_of(st.none(), st.booleans()),
    "fixed": st.one_of(st.none(), st.dictionaries(axes, st.integers(-3, 3), max_size=2),
                       st.dictionaries(axes, junk(), max_size=1), junk()),
})


def _check_source(src: FrameSource) -> None:
    h, w = src.frame_shape
    assert src.num_frames >= 1 and h >= 1 and w >= 1, src
    for i in sorted({0, src.num_frames - 1}):
        with strict():
            frame = src.read(i)
        assert frame.shape in ((h, w), (h, w, 3)), (frame.shape, src)
        assert frame.dtype == src.dtype
        x = attempt(to_model_input, frame, SIZE, frame=i)
        if x is not None:
            assert x.shape == (1, 3, SIZE, SIZE) and x.dtype == torch.float32
            assert torch.isfinite(x).all()
    for bad in (-1, src.num_frames):
        with pytest.raises(IndexError) as info:
            src.read(bad)
        check_error(info.value)  # an IndexError for iteration, and one of ours


@FUZZ
@given(data=stacks(), kwargs=open_kwargs)
def test_open_frames_fuzz(data, kwargs):
    src = attempt(open_frames, data, **kwargs)
    if src is not None:
        _check_source(src)


@FUZZ
@given(data=stacks())
def test_open_frames_defaults_fuzz(data):
    """With the defaults, every array of >= 2 non-empty dimensions opens."""
    src = attempt(open_frames, data)
    if src is None:
        assert data.ndim < 2 or 0 in data.shape
    else:
        _check_source(src)


@FUZZ
@given(junk_data=st.one_of(junk(), st.lists(st.lists(st.integers(), max_size=3), max_size=3),
                           st.dictionaries(st.text(max_size=1), st.integers(), max_size=2)))
def test_open_frames_junk_data(junk_data):
    src = attempt(open_frames, junk_data)
    if src is not None:
        _check_source(src)


def _valid_file_bytes(suffix: str) -> bytes:
    import io

    import tifffile

    buf = io.BytesIO()
    arr = np.arange(2 * 5 * 6, dtype=np.uint16).reshape(2, 5, 6)
    if suffix == ".npy":
        np.save(buf, arr)
    else:
        tifffile.imwrite(buf, arr)
    return buf.getvalue()


@FUZZ
@given(suffix=st.sampled_from([".npy", ".tif", ".TIFF"]), data=st.data())
def test_damaged_files(suffix, data):
    """Random bytes, or a valid file cut short or with a flipped byte, open or fail cleanly."""
    import tempfile
    from pathlib import Path

    good = _valid_file_bytes(suffix.lower())
    content = data.draw(st.one_of(
        st.binary(max_size=64),
        st.integers(0, len(good) - 1).map(lambda n: good[:n]),
        st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255)).map(
            lambda t: good[:t[0]] + bytes([t[1]]) + good[t[0] + 1:]),
    ))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"stack{suffix}"
        path.write_bytes(content)
        src = attempt(open_frames, path)
        if src is not None:
            try:
                _check_source(src)
            except ValueError as err:  # damaged pixel data shows up on reading
                check_error(err)
            finally:
                src.close()


frames = st.one_of(
    stacks(),
    hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=2, max_dims=3, max_side=5)),
)
normalizations = st.builds(
    Normalization,
    low_percentile=st.one_of(st.floats(-1, 101), st.floats(), junk()),
    high_percentile=st.one_of(st.floats(-1, 101), st.floats(), junk()),
    mode=st.one_of(st.sampled_from(MODES), st.text(max_size=3), junk()),
    limits=st.one_of(st.none(), st.tuples(st.floats(), st.floats()),
                     st.lists(st.floats(-10, 10), max_size=3), junk()),
)


@FUZZ
@given(frame=frames, data=st.data())
def test_to_model_input_fuzz(frame, data):
    norm = attempt(data.draw, normalizations)
    x = attempt(to_model_input, frame, SIZE, norm or Normalization())
    if x is not None:
        assert x.shape == (1, 3, SIZE, SIZE) and torch.isfinite(x).all()
    else:  # only bad frames fail
        image_like = frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3, 4))
        finite = frame.dtype.kind != "f" or np.isfinite(frame).all()
        assert not (image_like and frame.size and finite), (frame.shape, frame.dtype)


def test_extreme_floats_normalise_without_overflow():
    for dtype in (np.float16, np.float32, np.float64):
        info = np.finfo(dtype)
        frame = np.array([[info.min, 0], [info.max, info.max]], dtype)
        with strict():
            x = to_model_input(frame, SIZE)
        assert torch.isfinite(x).all()


def test_bad_axes_name_the_problem():
    data = np.zeros((2, 3, 8, 8), np.uint8)
    for kwargs, words in [
        ({"frame_axis": "0"}, "frame_axis must be an integer"),
        ({"frame_axis": 2}, "frame_axis 2 is a spatial axis"),
        ({"fixed": [1, 2]}, "fixed must be a mapping"),
        ({"fixed": {1: 1.5}}, "fixed index"),
        ({"fixed": {1: 0, -3: 1}}, "axis 1 fixed twice"),
        ({"channel": "1", "channel_axis": 1}, "channel must be an integer"),
    ]:
        with pytest.raises(ValueError, match=words) as info:
            open_frames(data, **kwargs)
        check_error(info.value)
    for empty in (np.zeros((0, 4, 4)), np.zeros((2, 0, 4)), np.zeros((2, 4, 4, 0))):
        with pytest.raises(ValueError, match="empty") as info:
            open_frames(empty)
        check_error(info.value)


# --- a session stays usable after a frame it cannot read ----------------------

def _nan_stack():
    stack = np.zeros((3, 12, 20), np.float32)
    stack[:, 3:9, 5:14] = 1.0
    stack[1, 0, 0] = np.nan
    return stack


def test_session_survives_a_bad_frame(small_model):
    from napari_sam2.engine.session import VideoSession

    session = VideoSession(small_model, _nan_stack())
    for frame in (1, 1):  # twice: the failure is not cached as a success
        with pytest.raises(ValueError, match="frame 1 contains NaN") as info:
            session.add_points(frame, 1, [[9, 6]], [1])
        check_error(info.value)
    result = session.add_points(0, 1, [[9, 6]], [1])
    assert result.obj_ids == (1,) and result.masks.shape == (1, 12, 20)
    assert session.prompted_frames(1) == [0]


def test_failed_click_leaves_no_object(small_model):
    from napari_sam2.engine.session import VideoSession

    session = VideoSession(small_model, _nan_stack())
    with pytest.raises(ValueError):
        session.add_points(1, 1, [[9, 6]], [1])
    assert session.obj_ids == []
