"""Mechanics of automatic mask generation on a generated stack (stand-in weights, 256 input).

One generator and one frame serve every test; its encoding memo means the
image encoder runs once per crop, so most tests pay only for the decoder.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_sam2.engine.automask import AutoMaskGenerator, AutoMaskSettings, MaskRecord
from napari_sam2.engine.automask_ops import (
    box_iou,
    clean_mask,
    crop_boxes,
    layer_point_grids,
    masks_to_boxes,
    nms,
    paint_labels,
    point_grid,
    stability_scores,
)
from napari_sam2.engine.synthetic import StackSpec, make_stack

from ._fuzz import attempt

SHAPE = (96, 128)
# Nothing filtered, nothing suppressed: every grid click's three candidates come back.
LOOSE = AutoMaskSettings(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                         box_nms_thresh=1.0)
FEW = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
MANY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return make_stack(StackSpec(frames=1, size=SHAPE, cells=(3, 5)), seed=3).image[0]


@pytest.fixture(scope="module")
def generator(small_model) -> AutoMaskGenerator:
    return AutoMaskGenerator(small_model, settings=LOOSE)


def run(generator: AutoMaskGenerator, frame: np.ndarray, **changes) -> list[MaskRecord]:
    generator.settings = replace(LOOSE, **changes)
    return generator.generate(frame)


@pytest.fixture(scope="module")
def loose(generator, frame) -> list[MaskRecord]:
    return run(generator, frame)


def _key(rec: MaskRecord) -> tuple:
    return rec.point, round(rec.predicted_iou, 3)


def _same(a: list[MaskRecord], b: list[MaskRecord]) -> bool:
    """The same masks as a set: equal points and IoUs, masks IoU >= 0.99."""
    if len(a) != len(b):
        return False
    rest = list(b)
    for rec in a:
        match = next((r for r in rest if r.point == rec.point
                      and abs(r.predicted_iou - rec.predicted_iou) < 1e-4
                      and _iou(r.mask, rec.mask) >= 0.99), None)
        if match is None:
            return False
        rest.remove(match)
    return True


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _xyxy(rec: MaskRecord) -> list[float]:
    x, y, w, h = rec.box
    return [x, y, x + w, y + h]


# -- the grid ---------------------------------------------------------------------
def test_point_grid_is_cell_centres_x_fastest():
    grid = point_grid(2)
    assert np.allclose(grid, [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
    assert [len(g) for g in layer_point_grids(8, 2, 2)] == [64, 16, 4]


def test_records_are_well_formed_and_come_from_the_grid(loose):
    h, w = SHAPE
    grid = {(float(x), float(y)) for x, y in (point_grid(6) * [w, h]).astype(np.float32)}
    assert {r.point for r in loose} == grid  # every click answered
    per_point = {p: sum(r.point == p for r in loose) for p in grid}
    assert set(per_point.values()) <= {1, 2, 3}  # three candidates, empty ones dropped
    ious = [r.predicted_iou for r in loose]
    assert ious == sorted(ious, reverse=True)
    for r in loose:
        assert r.mask.shape == SHAPE and r.mask.dtype == bool
        assert r.area == r.mask.sum() > 0
        ys, xs = np.nonzero(r.mask)
        assert r.box == (xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min())
        assert 0 <= r.stability_score <= 1 and r.crop_box == (0, 0, w, h)


def test_single_mask_output(generator, frame):
    single = run(generator, frame, multimask_output=False)
    points = [r.point for r in single]
    assert len(points) == len(set(points)) == 36


# -- batching -----------------------------------------------------------------------
@FEW
@given(per_batch=st.integers(1, 40))
def test_results_do_not_depend_on_points_per_batch(generator, frame, loose, per_batch):
    assert _same(run(generator, frame, points_per_batch=per_batch), loose)


# -- filtering ----------------------------------------------------------------------
def test_iou_and_stability_filters_keep_exactly_the_passing_masks(generator, frame, loose):
    iou_t = float(np.median([r.predicted_iou for r in loose]))
    stab_t = float(np.median([r.stability_score for r in loose]))
    kept = run(generator, frame, pred_iou_thresh=iou_t, stability_score_thresh=stab_t)
    expected = [r for r in loose if r.predicted_iou > iou_t and r.stability_score >= stab_t]
    assert 0 < len(kept) < len(loose)
    assert _same(kept, expected)


def test_stability_score_is_iou_of_offset_thresholds():
    ramp = torch.arange(-5.0, 5.0).repeat(10, 1)[None]  # columns -5..4
    # > +1: 3 columns (2, 3, 4); > -1: 5 columns (0..4)
    assert stability_scores(ramp, 0.0, 1.0).tolist() == [pytest.approx(3 / 5)]
    assert stability_scores(torch.full((1, 4, 4), -9.0), 0.0, 1.0).tolist() == [0.0]


# -- NMS ------------------------------------------------------------------------------
def _greedy(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> list[int]:
    keep: list[int] = []
    for i in sorted(range(len(scores)), key=lambda k: (-scores[k], k)):
        if all(_box_iou(boxes[i], boxes[j]) <= thresh for j in keep):
            keep.append(i)
    return keep


def _box_iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@MANY
@given(data=st.data(), n=st.integers(0, 12), thresh=st.floats(0.0, 1.0))
def test_nms_is_greedy_by_score(data, n, thresh):
    corners = data.draw(st.lists(st.tuples(*[st.integers(0, 30)] * 4), min_size=n, max_size=n))
    boxes = np.array([[min(a, c), min(b, d), max(a, c), max(b, d)] for a, b, c, d in corners],
                     dtype=np.float64).reshape(-1, 4)
    scores = np.array(data.draw(st.lists(st.sampled_from([0.1, 0.5, 0.7, 0.9]),
                                         min_size=n, max_size=n)))
    kept = nms(torch.from_numpy(boxes), torch.from_numpy(scores), thresh).tolist()
    assert kept == _greedy(boxes, scores, thresh)
    if n:
        assert np.allclose(box_iou(torch.from_numpy(boxes), torch.from_numpy(boxes)).numpy(),
                           [[_box_iou(a, b) for b in boxes] for a in boxes])


def test_box_nms_in_the_generator(generator, frame, loose):
    kept = run(generator, frame, box_nms_thresh=0.5)
    assert 0 < len(kept) < len(loose)
    for i, a in enumerate(kept):
        for b in kept[i + 1:]:
            assert _box_iou(_xyxy(a), _xyxy(b)) <= 0.5
    kept_keys = {_key(r) for r in kept}
    for r in loose:  # every dropped mask overlaps a kept, more confident one
        if _key(r) not in kept_keys:
            assert any(_box_iou(_xyxy(r), _xyxy(k)) > 0.5 and k.predicted_iou >= r.predicted_iou
                       for k in kept)


def test_masks_to_boxes_last_pixel_inclusive():
    masks = torch.zeros((2, 6, 8), dtype=torch.bool)
    masks[0, 1:4, 2:7] = True
    assert masks_to_boxes(masks).tolist() == [[2, 1, 6, 3], [0, 0, 0, 0]]


# -- crops -----------------------------------------------------------------------------
def test_crop_boxes_tile_the_frame_with_overlap():
    crops = crop_boxes((100, 150), 2, 512 / 1500)
    assert [layer for _, layer in crops] == [0] + [1] * 4 + [2] * 16
    assert crops[0][0] == (0, 0, 150, 100)
    for layer in (1, 2):
        cover = np.zeros((100, 150), int)
        for (x0, y0, x1, y1), lay in crops:
            if lay == layer:
                cover[y0:y1, x0:x1] += 1
        assert cover.min() >= 1 and cover.max() > 1  # covered, overlapping


def test_crop_layers_add_masks_from_crops(generator):
    # A larger frame, so that some masks of the 2 x 2 crops stay clear of inner crop edges.
    shape = (192, 256)
    frame = make_stack(StackSpec(frames=1, size=shape, cells=(3, 5)), seed=3).image[0]
    records = run(generator, frame, crop_n_layers=1, crop_overlap_ratio=0.0, box_nms_thresh=0.7)
    crops = {(x0, y0, x1 - x0, y1 - y0) for (x0, y0, x1, y1), _ in crop_boxes(shape, 1, 0.0)}
    assert records and {r.crop_box for r in records} <= crops
    assert len({r.crop_box for r in records}) > 1
    h, w = shape
    for r in records:
        assert r.mask.shape == shape and r.area == r.mask.sum()
        cx, cy, cw, ch = r.crop_box
        x0, y0, x1, y1 = _xyxy(r)
        assert cx <= r.point[0] <= cx + cw and cy <= r.point[1] <= cy + ch
        assert not r.mask[:, :cx].any() and not r.mask[:cy].any()  # inside its crop
        assert not r.mask[:, cx + cw:].any() and not r.mask[cy + ch:].any()
        # Nothing within 20 px of an inner crop edge (edges of the frame are fine).
        for edge, frame_edge, v in ((cx, 0, x0), (cy, 0, y0), (cx + cw, w, x1), (cy + ch, h, y1)):
            assert edge == frame_edge or abs(v - edge) > 20 or abs(v - frame_edge) <= 20


# -- cleaning -------------------------------------------------------------------------
def test_clean_mask_fills_holes_and_drops_islands():
    mask = np.zeros((30, 30), bool)
    mask[2:20, 2:20] = True
    mask[8:10, 8:10] = False  # hole of 4
    mask[25:27, 25:27] = True  # island of 4
    out, changed = clean_mask(mask, 10)
    assert changed and out[8:10, 8:10].all() and not out[25:27, 25:27].any()
    again, changed_again = clean_mask(out, 10)
    assert not changed_again and (again == out).all()
    tiny = np.zeros((10, 10), bool)
    tiny[1, 1] = True
    tiny[5:7, 5:7] = True
    kept, _ = clean_mask(tiny, 50)  # all islands small: the largest stays
    assert kept[5:7, 5:7].all() and kept.sum() == 4


def test_min_region_area_in_the_generator(generator, frame):
    from skimage.measure import label

    area = 150
    records = run(generator, frame, min_mask_region_area=area, pred_iou_thresh=0.5,
                  box_nms_thresh=0.7)
    assert records
    for r in records:
        islands = np.bincount(label(r.mask, connectivity=2).ravel())[1:]
        assert len(islands) == 1 or islands.min() >= area
        holes = np.bincount(label(~r.mask, connectivity=2).ravel())[1:]
        assert len(holes) == 0 or holes.min() >= area


# -- the label image -------------------------------------------------------------------
def _rec(mask: np.ndarray, iou: float) -> MaskRecord:
    return MaskRecord(mask, int(mask.sum()), (0, 0, 0, 0), iou, 1.0, (0.0, 0.0), (0, 0, 1, 1))


def test_paint_labels_orders():
    big = np.zeros((20, 20), bool)
    big[2:18, 2:18] = True
    small = np.zeros((20, 20), bool)
    small[5:9, 5:9] = True
    gone = small.copy()  # hidden entirely by an equal, more confident mask
    recs = [_rec(big, 0.9), _rec(small, 0.5), _rec(gone, 0.4)]
    by_area = paint_labels(recs, (20, 20), "area")
    assert by_area.dtype == np.uint16 and set(np.unique(by_area)) == {0, 1, 2}
    assert (by_area[small] == by_area[6, 6]).all() and by_area[6, 6] != by_area[3, 3]
    by_iou = paint_labels(recs, (20, 20), "iou")
    assert set(np.unique(by_iou)) == {0, 1}  # the big, confident mask claims everything
    with pytest.raises(ValueError, match="order"):
        paint_labels(recs, (20, 20), "size")


def test_label_image_of_a_frame(generator, frame):
    generator.settings = replace(LOOSE, pred_iou_thresh=0.5, box_nms_thresh=0.7)
    labels = generator.label_image(frame)
    assert labels.shape == SHAPE and labels.dtype == np.uint16
    ids = np.unique(labels[labels > 0])
    assert ids.tolist() == list(range(1, len(ids) + 1)) and len(ids) >= 1


# -- bad input -----------------------------------------------------------------------------
junk = st.one_of(st.none(), st.text(max_size=3), st.floats(allow_nan=True), st.integers(-5, 5),
                 st.booleans(), st.just(np.float64(2.5)), st.just([1]), st.just(object()))
FIELDS = ["points_per_side", "points_per_batch", "pred_iou_thresh", "stability_score_thresh",
          "box_nms_thresh", "crop_n_layers", "min_mask_region_area", "multimask_output",
          "stability_score_offset", "crop_overlap_ratio", "crop_n_points_downscale_factor"]


@MANY
@given(name=st.sampled_from(FIELDS), value=junk)
def test_settings_validate_or_fail_cleanly(name, value):
    made = attempt(AutoMaskSettings, **{name: value})
    if made is not None:
        assert getattr(made, name) == value


@pytest.mark.parametrize("bad", [np.zeros((4,)), np.zeros((0, 5)), np.zeros((4, 4, 5)),
                                 np.full((8, 8), np.nan), np.zeros((2, 4, 4, 3))])
def test_bad_frames_fail_cleanly(generator, bad):
    assert attempt(generator.generate, bad) is None
