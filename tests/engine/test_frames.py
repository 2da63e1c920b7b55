from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.engine.frames import FrameSource, MissingFileError, open_frames


class RecordingArray:
    """A minimal array-like that records every index it is asked for."""

    def __init__(self, arr: np.ndarray) -> None:
        self._arr = arr
        self.shape = arr.shape
        self.dtype = arr.dtype
        self.requests: list[tuple] = []

    def __getitem__(self, index):
        self.requests.append(index)
        return self._arr[index]


def _stack(shape, dtype=np.uint16, seed=0):
    return np.random.default_rng(seed).integers(0, 1000, size=shape).astype(dtype)


def test_numpy_tyx_frames_and_index_of():
    arr = _stack((5, 16, 24))
    src = open_frames(arr)
    assert (src.num_frames, src.frame_shape, src.dtype) == (5, (16, 24), np.uint16)
    assert not src.rgb
    for i in range(5):
        np.testing.assert_array_equal(src.read(i), arr[i])
    assert src.index_of(3) == (3, slice(None), slice(None))
    frame = src.read(1)
    frame[:] = 0  # a returned frame is never a view into the caller's data
    assert arr[1].any()
    with pytest.raises(IndexError):
        src.read(5)


def test_tzyx_track_through_t_at_z2_and_through_z_at_t1():
    arr = _stack((4, 3, 8, 10))
    through_t = open_frames(arr, frame_axis=0, fixed={1: 2})
    assert through_t.num_frames == 4
    np.testing.assert_array_equal(np.stack([through_t.read(i) for i in range(4)]), arr[:, 2])
    labels = np.zeros(through_t.label_shape, np.uint8)
    labels[through_t.index_of(3)] = 1
    assert labels[3, 2].all() and labels.sum() == 80

    through_z = open_frames(arr, frame_axis=-3, fixed={0: 1})
    assert through_z.num_frames == 3
    np.testing.assert_array_equal(through_z.read(2), arr[1, 2])
    assert through_z.index_of(2) == (1, 2, slice(None), slice(None))
    # Unfixed extra axes default to index 0.
    np.testing.assert_array_equal(open_frames(arr, frame_axis=1).read(2), arr[0, 2])
    assert "fixed {1: 2}" in through_t.describe()


def test_channels_and_rgb():
    tcyx = _stack((3, 2, 8, 9))
    src = open_frames(tcyx, channel=1, channel_axis=1)
    assert src.frame_shape == (8, 9) and src.label_shape == (3, 8, 9)
    np.testing.assert_array_equal(src.read(2), tcyx[2, 1])
    assert src.index_of(2) == (2, slice(None), slice(None))

    rgba = _stack((2, 40, 50, 4), np.uint8)  # auto RGB, alpha dropped
    src = open_frames(rgba)
    assert src.rgb and src.frame_shape == (40, 50)
    np.testing.assert_array_equal(src.read(1), rgba[1, :, :, :3])
    np.testing.assert_array_equal(open_frames(rgba, channel=2).read(0), rgba[0, :, :, 2])

    # Channel-first RGB comes out channel-last.
    tc3yx = _stack((2, 3, 8, 9), np.uint8)
    np.testing.assert_array_equal(
        open_frames(tc3yx, channel_axis=1).read(1), np.moveaxis(tc3yx[1], 0, -1)
    )

    # (T, H, 3) is a video of narrow frames, not RGB; a big (H, W, 3) is one RGB image.
    narrow = _stack((10, 64, 3))
    assert open_frames(narrow).frame_shape == (64, 3)
    image = _stack((64, 48, 3), np.uint8)
    one = open_frames(image)
    assert one.num_frames == 1 and one.rgb and one.read(0).shape == (64, 48, 3)
    assert open_frames(image, rgb=False).num_frames == 64


def test_2d_is_one_frame_video():
    img = _stack((7, 9))
    src = open_frames(img, frame_axis=0)
    assert src.num_frames == 1 and src.index_of(0) == (slice(None), slice(None))
    np.testing.assert_array_equal(src[0], img)


def test_memmap_reads_one_frame_without_copy(tmp_path):
    path = tmp_path / "stack.dat"
    mm = np.memmap(path, dtype=np.uint16, mode="w+", shape=(6, 32, 32))
    mm[:] = _stack((6, 32, 32))
    mm.flush()
    ro = np.memmap(path, dtype=np.uint16, mode="r", shape=(6, 32, 32))
    src = open_frames(ro)
    assert src._data is ro  # the source keeps the memmap, not a loaded copy
    frame = src.read(4)
    assert type(frame) is np.ndarray and frame.flags.owndata
    assert not np.shares_memory(frame, ro)
    np.testing.assert_array_equal(frame, mm[4])

    rec = RecordingArray(ro)
    open_frames(rec).read(4)
    assert rec.requests == [(4, slice(None), slice(None))]


def test_npy_path_is_memory_mapped(tmp_path):
    arr = _stack((3, 10, 12))
    np.save(tmp_path / "a.npy", arr)
    src = open_frames(tmp_path / "a.npy")
    assert isinstance(src._data, np.memmap)
    np.testing.assert_array_equal(src.read(2), arr[2])
    assert str(tmp_path / "a.npy") in src.describe()


def test_dask_reads_only_the_needed_chunk():
    da = pytest.importorskip("dask.array")
    arr = _stack((8, 16, 16))
    calls = []

    def count(block, block_info=None):
        calls.append(block_info[0]["chunk-location"])
        return block

    lazy = da.from_array(arr, chunks=(1, 16, 16)).map_blocks(count, dtype=arr.dtype)
    src = open_frames(lazy)
    assert calls == [] and src.num_frames == 8
    np.testing.assert_array_equal(src.read(5), arr[5])
    assert calls == [(5, 0, 0)]


def test_zarr_array_and_directory(tmp_path):
    zarr = pytest.importorskip("zarr")
    arr = _stack((4, 2, 12, 14))
    z = zarr.open(
        str(tmp_path / "s.zarr"), mode="w", shape=arr.shape, chunks=(1, 1, 12, 14), dtype=arr.dtype
    )
    z[:] = arr
    np.testing.assert_array_equal(open_frames(z, fixed={1: 1}).read(3), arr[3, 1])
    src = open_frames(tmp_path / "s.zarr", frame_axis=1, fixed={0: 2})
    np.testing.assert_array_equal(src.read(1), arr[2, 1])


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_tiff_stack(tmp_path, compression):
    tifffile = pytest.importorskip("tifffile")
    arr = _stack((5, 3, 20, 22))
    path = tmp_path / "s.tif"
    tifffile.imwrite(
        path, arr, compression=compression, photometric="minisblack", metadata={"axes": "TZYX"}
    )
    with open_frames(str(path), frame_axis=0, fixed={1: 2}) as src:
        assert src.num_frames == 5 and src.frame_shape == (20, 22)
        np.testing.assert_array_equal(src.read(4), arr[4, 2])
        np.testing.assert_array_equal(src.read(0), arr[0, 2])


def test_existing_source_is_returned_as_is():
    src = open_frames(np.zeros((2, 4, 4)))
    assert open_frames(src) is src and isinstance(src, FrameSource)


@pytest.mark.parametrize(
    "kwargs, shape, match",
    [
        ({}, (5,), "fewer than 2 spatial"),
        ({"frame_axis": 3}, (2, 4, 4), "out of range"),
        ({"frame_axis": -1}, (2, 4, 4), "spatial axis"),
        ({"frame_axis": 1, "channel_axis": 1, "channel": 0}, (2, 2, 4, 4), "channel axis"),
        ({"channel_axis": 1, "channel": 2}, (2, 2, 4, 4), "channel 2 out of range"),
        ({"channel_axis": 1}, (2, 2, 4, 4), "pick one with channel"),
        ({"channel": 0}, (2, 4, 4), "no channel axis"),
        ({"fixed": {1: 5}}, (2, 3, 4, 4), "fixed index 5"),
        ({"fixed": {0: 0}}, (2, 3, 4, 4), "fixed axis 0"),
    ],
)
def test_clear_errors(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        open_frames(np.zeros(shape), **kwargs)


def test_file_errors(tmp_path):
    with pytest.raises(ValueError, match="no such file") as info:
        open_frames(tmp_path / "missing.tif")
    assert isinstance(info.value, (FileNotFoundError, MissingFileError))
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown file type '.png'"):
        open_frames(tmp_path / "x.png")
