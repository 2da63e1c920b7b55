"""Training data from files and batches drawn from stacks."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from tests.training.standin import disc_stack

from napari_sam2.training.data import (
    LabelledStack,
    clip_batch,
    image_batch,
    load_ctc,
    load_tiff_pair,
    model_labels,
)


def _ctc(root, frames=3):
    st = disc_stack(0, frames=frames, size=32, cells=2)
    (root / "01").mkdir(parents=True)
    for sub in ("01_ST/SEG", "01_GT/TRA", "01_GT/SEG"):
        (root / sub).mkdir(parents=True)
    for t in range(frames):
        tifffile.imwrite(root / "01" / f"t{t:03d}.tif", st.image[t])
        # Silver truth: per-frame ids that do not persist (shuffled); TRA markers do.
        seg = np.where(st.labels[t] > 0, 10 * (t + 1) + st.labels[t], 0).astype(np.uint16)
        tifffile.imwrite(root / "01_ST" / "SEG" / f"man_seg{t:03d}.tif", seg)
        tra = np.zeros_like(st.labels[t])
        for i in np.unique(st.labels[t])[1:]:
            ys, xs = np.nonzero(st.labels[t] == i)
            tra[ys[len(ys) // 2], xs[len(xs) // 2]] = i
        tifffile.imwrite(root / "01_GT" / "TRA" / f"man_track{t:03d}.tif", tra)
    tifffile.imwrite(root / "01_GT" / "SEG" / "man_seg001.tif", st.labels[1])
    return st


def test_ctc_folder_links_silver_truth_by_tracking_markers(tmp_path):
    st = _ctc(tmp_path / "ds")
    stacks = load_ctc(tmp_path / "ds")
    assert [s.linked for s in stacks] == [True, False]
    assert stacks[0].image.shape == (3, 32, 32)
    np.testing.assert_array_equal(stacks[0].labels, st.labels)  # ids restored from the markers
    assert stacks[1].labels.shape == (1, 32, 32)


def test_ctc_folder_without_sequences_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no sequences"):
        load_ctc(tmp_path)


def test_tiff_pair_single_frame(tmp_path):
    tifffile.imwrite(tmp_path / "i.tif", np.zeros((16, 16), np.uint8))
    tifffile.imwrite(tmp_path / "l.tif", np.ones((16, 16), np.uint16))
    s = load_tiff_pair(tmp_path / "i.tif", tmp_path / "l.tif")
    assert s.image.shape == (1, 16, 16)
    tifffile.imwrite(tmp_path / "f.tif", np.ones((16, 16), np.float32))
    with pytest.raises(ValueError, match="integers"):
        load_tiff_pair(tmp_path / "i.tif", tmp_path / "f.tif")


def test_batches_match_their_labels():
    rng = np.random.default_rng(0)
    stacks = [disc_stack(1, frames=6, size=48, cells=3)]
    b = image_batch(stacks, 2, 2, 64, rng, p_zoom=0.5)
    assert b.images.shape == (2, 3, 64, 64) and b.targets.shape[1:] == (64, 64)
    assert b.targets.flatten(1).sum(1).min() >= 12 and len(b.image_index) == len(b.targets)
    c = clip_batch(stacks, 4, 2, 64, rng)
    assert c.frames.shape == (4, 3, 64, 64) and c.targets.shape[:2] == (4, c.targets.shape[1])
    assert c.targets[0].flatten(1).sum(1).min() >= 12  # visible on the prompted frame


def test_leaving_clips_track_a_cell_that_stays_beside_the_leavers():
    st = disc_stack(2, frames=8, size=64, cells=3)
    st.labels[2:][st.labels[2:] == 2] = 0  # cell 2 leaves after frame 1
    rng = np.random.default_rng(0)
    for _ in range(5):
        c = clip_batch([st], 8, 3, 64, rng, p_leaving=1.0, min_absent=3)
        present = c.targets.flatten(2).sum(-1) > 0  # (frames, objects)
        assert (~present).sum(0).max() >= 3  # a leaver gone for three frames or more
        assert present.all(0).any()  # and one that stays


def test_touching_batches_take_cells_with_a_neighbour():
    # Frames 0-1: squares 1 and 2 touch, 3 and 4 stand alone; frames 2-5: no cell touches.
    labels = np.zeros((6, 64, 64), np.uint16)
    labels[:, 8:24, 8:24], labels[:, 40:56, 40:56], labels[:, 40:56, 8:24] = 3, 4, 5
    labels[:2, 8:24, 24:40] = 2
    labels[:2, 8:24, 8:24] = 1
    image = (labels * 40).astype(np.uint8)
    stack = LabelledStack(image, labels, True, "squares")
    rng = np.random.default_rng(0)
    for _ in range(5):
        b = image_batch([stack], 2, 4, 64, rng, p_touching=1.0)
        assert b.neighbours.flatten(1).any(1).all()  # every row: a cell beside a neighbour
        assert len(b.targets) == 4  # only cells 1 and 2 of frames 0-1
    plain = image_batch([stack], 8, 4, 64, np.random.default_rng(1))
    assert not plain.neighbours.flatten(1).any(1).all()  # without it, lone cells come too


def test_model_labels_nearest():
    lab = np.arange(16, dtype=np.uint16).reshape(1, 4, 4)
    assert model_labels(lab, 8)[0, ::2, ::2].tolist() == lab[0].tolist()
