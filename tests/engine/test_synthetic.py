"""The synthetic microscopy generator: determinism, ground-truth consistency, looks."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from napari_sam2.engine.synthetic import (
    PRESETS,
    StackSpec,
    SyntheticStack,
    box_of,
    click_point,
    make_stack,
    random_spec,
)

SMALL = StackSpec(frames=12, size=(128, 128), cells=(3, 6), radius=(8.0, 16.0))


def _runs(track: np.ndarray) -> int:
    """Number of separate runs of True."""
    t = track.astype(np.int8)
    return int((np.diff(np.concatenate([[0], t])) == 1).sum())


def test_deterministic_per_seed():
    a, b = make_stack(SMALL, seed=5), make_stack(SMALL, seed=5)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.parents == b.parents and a.seed == 5 and a.spec == SMALL
    c = make_stack(SMALL, seed=6)
    assert not np.array_equal(a.labels, c.labels)


@pytest.mark.parametrize("dtype, top", [("uint8", 255), ("uint16", 65535)])
@pytest.mark.parametrize("kind", ["timelapse", "zstack"])
def test_dtype_shape_and_range(dtype, top, kind):
    spec = replace(SMALL, dtype=dtype, kind=kind, frames=6)
    st = make_stack(spec, seed=1)
    assert isinstance(st, SyntheticStack)
    assert st.image.shape == st.labels.shape == (6, 128, 128)
    assert st.image.dtype == np.dtype(dtype) and st.labels.dtype == np.uint16
    lo, hi = int(st.image.min()), int(st.image.max())
    assert 0 <= lo < hi <= top
    assert hi > 0.2 * (255 if dtype == "uint8" else 4095)  # uses the range, at least 12 bits'
    assert st.image.std() > 0


@pytest.mark.parametrize("seed", range(6))
def test_labels_consistent_over_time(seed):
    st = make_stack(StackSpec(), seed)
    ids = st.ids
    assert ids and len(set(ids)) == len(ids)
    for i in ids:  # a cell is present in one contiguous run of frames, never comes back
        assert _runs(st.track(i)) == 1, i
    for daughter, mother in st.parents.items():
        assert daughter > mother  # new ids, never reused
        first = int(np.argmax(st.track(daughter)))
        last_mother = int(np.flatnonzero(st.track(mother))[-1])
        assert last_mother == first - 1  # the mother is gone from the frame her daughters appear
    for mother in set(st.parents.values()):  # two daughters (one may be born outside the field)
        assert sum(m == mother for m in st.parents.values()) in (1, 2)


@pytest.mark.parametrize("seed", range(8))
def test_a_division_happens(seed):
    st = make_stack(StackSpec(frames=20), seed)
    assert st.parents
    no = make_stack(StackSpec(frames=20, divisions=False), seed)
    assert no.parents == {}


def _elongation(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    ev = np.linalg.eigvalsh(np.cov(np.stack([ys, xs]).astype(float)))
    return float(np.sqrt(ev[1] / max(ev[0], 1e-9)))


def test_mothers_stretch_before_they_divide():
    checked = 0
    for seed in range(6):
        st = make_stack(StackSpec(enter_leave=False), seed)
        for mother in set(st.parents.values()):
            frames = np.flatnonzero(st.track(mother))
            if len(frames) < 6:
                continue
            before, last = st.labels[frames[-6]] == mother, st.labels[frames[-1]] == mother
            assert _elongation(last) > 1.2 * _elongation(before)
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("seed", range(8))
def test_cells_enter_and_leave(seed):
    st = make_stack(StackSpec(frames=20), seed)
    daughters, mothers = set(st.parents), set(st.parents.values())
    entered = [i for i in st.ids if not st.track(i)[0] and i not in daughters]
    left = [i for i in st.ids if not st.track(i)[-1] and i not in mothers]
    assert entered and left


def test_without_enter_leave_every_cell_stays():
    for seed in range(4):
        st = make_stack(StackSpec(enter_leave=False, divisions=False), seed)
        assert all(st.track(i).all() for i in st.ids)


@pytest.mark.parametrize("seed", range(4))
def test_zstack_cross_sections_grow_then_shrink(seed):
    spec = StackSpec.preset("zstack", frames=24, touching=False)
    st = make_stack(spec, seed)
    assert st.parents == {} and st.ids
    for i in st.ids:
        area = (st.labels == i).sum(axis=(1, 2))
        present = np.flatnonzero(area)
        assert _runs(area > 0) == 1  # absent on the slices outside the cell
        a = area[present[0] : present[-1] + 1].astype(float)
        peak = int(np.argmax(a))
        assert (np.diff(a[: peak + 1]) >= 0).all() and (np.diff(a[peak:]) <= 0).all()
        if len(a) >= 3:
            assert a[0] < a.max() and a[-1] < a.max()


def _leak(img: np.ndarray, labels: np.ndarray, i: int) -> float:
    """Light just outside a cell's outline relative to just inside it: grows with blur."""
    from scipy import ndimage as ndi

    mask = labels == i
    inner = mask & ~ndi.binary_erosion(mask, iterations=2)
    outer = ndi.binary_dilation(mask, iterations=2) & ~mask & (labels == 0)
    bg = np.median(img[labels == 0])
    return (img[outer].mean() - bg) / (img[inner].mean() - bg)


def test_zstack_cells_blur_away_from_their_centre_plane():
    spec = StackSpec.preset("zstack", frames=24, touching=False, noise=0.0, background=0.0)
    checked = 0
    for seed in range(3):
        st = make_stack(spec, seed)
        img = st.image.astype(float)
        for i in st.ids:
            area = (st.labels == i).sum(axis=(1, 2))
            present = np.flatnonzero(area)
            if len(present) < 5:
                continue
            mid = present[np.argmax(area[present])]
            sharp = _leak(img[mid], st.labels[mid], i)
            for z in (present[0], present[-1]):  # sharp in focus, soft out of it
                assert _leak(img[z], st.labels[z], i) > sharp
            checked += 1
    assert checked >= 5


def test_distractors_are_bright_and_not_labelled():
    spec = replace(SMALL, distractors=10)
    st, clean = make_stack(spec, 3), make_stack(replace(spec, distractors=0), 3)
    np.testing.assert_array_equal(st.labels, clean.labels)  # debris changes no label
    assert clean.debris is None and st.debris is not None and st.debris[0].any()
    background = st.labels == 0
    assert (st.debris & background).sum() > 0.5 * st.debris.sum()  # mostly off the cells
    img = st.image.astype(float)
    assert img[st.debris & background].mean() > 2 * img[~st.debris & background].mean()


def test_occlusion_marks_frames_and_keeps_labels():
    spec = replace(SMALL, occlusion=2)
    st, clean = make_stack(spec, 4), make_stack(replace(spec, occlusion=0), 4)
    np.testing.assert_array_equal(st.labels, clean.labels)
    assert st.occluded.any() and not st.occluded[0] and not clean.occluded.any()
    hit = st.occluded
    assert not np.array_equal(st.image[hit], clean.image[hit])


@pytest.mark.parametrize("kind", ["timelapse", "zstack"])
def test_cells_are_brighter_than_background(kind):
    for seed in range(3):
        st = make_stack(StackSpec.preset(kind), seed)
        img = st.image.astype(float)
        inside, outside = img[st.labels > 0].mean(), img[st.labels == 0].mean()
        assert inside > 1.5 * outside
        for i in st.ids[:5]:  # and each cell on its own
            m = st.labels == i
            assert img[m].mean() > outside


def test_speed():
    make_stack(StackSpec(), 0)  # warm-up
    start = time.perf_counter()
    make_stack(StackSpec(cells=(10, 10)), 1)
    assert time.perf_counter() - start < 5.0  # ~0.1-0.3 s on a laptop core


def test_presets_all_work():
    for name, spec in PRESETS.items():
        small = replace(spec, frames=6, size=(96, 96))
        st = make_stack(small, 2)
        assert st.image.shape == (6, 96, 96), name
        assert StackSpec.preset(name) == spec
    assert StackSpec.preset("dense", dtype="uint8").dtype == "uint8"
    with pytest.raises(ValueError):
        StackSpec.preset("nope")


def test_random_spec_varies_and_keeps_fixed_fields():
    a = [random_spec(np.random.default_rng(1000 + i), frames=5, size=(96, 96)) for i in range(12)]
    b = [random_spec(np.random.default_rng(1000 + i), frames=5, size=(96, 96)) for i in range(12)]
    assert a == b  # deterministic per generator state
    assert all(s.frames == 5 and s.size == (96, 96) for s in a)
    assert len({s.noise for s in a}) == 12 and len({s.kind for s in a}) == 2
    for i, spec in enumerate(a[:4]):
        st = make_stack(spec, 1000 + i)
        assert st.image.shape == (5, 96, 96) and st.image.dtype == np.dtype(spec.dtype)


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "movie"},
        {"dtype": "float32"},
        {"cells": (5, 2)},
        {"radius": (0, 3)},
        {"elongation": (0.5, 1.0)},
    ],
)
def test_bad_spec(bad):
    with pytest.raises(ValueError):
        StackSpec(**bad)


def test_click_point_and_box():
    st = make_stack(SMALL, 7)
    lab = st.labels[0]
    rng = np.random.default_rng(0)
    for i in np.unique(lab)[1:]:
        x, y = click_point(lab, i)
        assert lab[y, x] == i
        ys, xs = np.nonzero(lab == i)
        x0, y0, x1, y1 = box_of(lab, i)
        assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max(), ys.max())
        for _ in range(5):
            x, y = click_point(lab, i, rng)
            assert lab[y, x] == i
            bx = box_of(lab, i, rng)
            assert (
                0 <= bx[0] <= bx[2] <= lab.shape[1] - 1 and 0 <= bx[1] <= bx[3] <= lab.shape[0] - 1
            )
    with pytest.raises(ValueError):
        click_point(lab, 60000)


def test_click_point_is_deep_inside():
    lab = np.zeros((40, 60), np.uint16)
    lab[10:30, 5:55] = 3  # a 20 x 50 bar: the deepest row is 19 or 20
    x, y = click_point(lab, 3)
    assert 19 <= y <= 20 and 14 <= x <= 45
    lab[:, :3] = 4  # touching the frame edge counts as an outline
    x, y = click_point(lab, 4)
    assert lab[y, x] == 4
