from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_sam2.export import ctc_tracks, write_ctc, write_label_stack


def _stack() -> np.ndarray:
    # object 1 on frames 0-1 and again 3-4 (gap at 2); object 2 on 1-4; object 3 (child of 2)
    a = np.zeros((5, 8, 8), np.uint32)
    a[[0, 1, 3, 4], 0:2, 0:2] = 1
    a[1:4, 4:6, 4:6] = 2
    a[4, 6:8, 6:8] = 3
    return a


def test_label_stack_dtype_and_compression(tmp_path):
    a = _stack()
    path = write_label_stack(tmp_path / "sub" / "labels.tif", a)
    with tifffile.TiffFile(path) as tif:
        back = tif.asarray()
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    assert back.dtype == np.uint16 and np.array_equal(back, a)
    big = a.copy()
    big[0, 7, 7] = 70_000
    assert tifffile.imread(write_label_stack(tmp_path / "big.tif", big)).dtype == np.uint32


def test_label_stack_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="integer"):
        write_label_stack(tmp_path / "x.tif", np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="negative"):
        write_label_stack(tmp_path / "x.tif", -np.ones((2, 2), np.int32))


def test_imagej_stack_for_napari_same_dtype_rule(tmp_path):
    a = _stack()  # small ids: uint16 too (one rule for every writer), not uint8
    with tifffile.TiffFile(write_label_stack(tmp_path / "ij.tif", a, imagej=True)) as tif:
        assert tif.is_imagej and tif.imagej_metadata["slices"] == 5
        assert tif.asarray().dtype == np.uint16
    big = a.copy()
    big[0, 7, 7] = 70_000  # ImageJ holds no uint32: a compressed plain TIFF instead
    with tifffile.TiffFile(write_label_stack(tmp_path / "big.tif", big, imagej=True)) as tif:
        assert not tif.is_imagej and np.array_equal(tif.asarray(), big)


def test_ctc_gap_split_and_parents(tmp_path):
    a = _stack()
    tracks = write_ctc(tmp_path / "ctc", a, parents={3: 2})
    # object 1 splits at the gap: 1 keeps frames 0-1, new label 4 (> all ids) has 3-4
    assert tracks == [(1, 0, 1, 0), (2, 1, 3, 0), (3, 4, 4, 2), (4, 3, 4, 1)]
    files = sorted(p.name for p in (tmp_path / "ctc").iterdir())
    assert files == [f"mask{t:03d}.tif" for t in range(5)] + ["res_track.txt"]
    assert (tmp_path / "ctc" / "res_track.txt").read_text().splitlines() == [
        "1 0 1 0", "2 1 3 0", "3 4 4 2", "4 3 4 1"]
    m3 = tifffile.imread(tmp_path / "ctc" / "mask003.tif")
    assert m3.dtype == np.uint16
    assert m3[0, 0] == 4 and m3[4, 4] == 2
    assert tifffile.imread(tmp_path / "ctc" / "mask000.tif")[0, 0] == 1


def test_ctc_rewrite_removes_old_masks(tmp_path):
    write_ctc(tmp_path, _stack())
    write_ctc(tmp_path, _stack()[:2])
    assert sorted(p.name for p in tmp_path.glob("mask*.tif")) == ["mask000.tif", "mask001.tif"]


def test_ctc_four_digits_beyond_1000_frames(tmp_path):
    a = np.zeros((1001, 2, 2), np.uint16)
    a[:, 0, 0] = 1
    tracks = write_ctc(tmp_path, a)
    assert tracks == [(1, 0, 1000, 0)]
    assert (tmp_path / "mask0000.tif").exists() and (tmp_path / "mask1000.tif").exists()


def test_ctc_parent_errors():
    a = _stack()
    with pytest.raises(ValueError, match="does not end before"):
        ctc_tracks(a, parents={2: 1})  # 1 is present on frame 0 only before 2 starts at 1
    with pytest.raises(ValueError, match="does not appear"):
        ctc_tracks(a, parents={3: 9})
    with pytest.raises(ValueError, match="T, Y, X"):
        write_ctc("unused", np.zeros((4, 4), np.uint16))
