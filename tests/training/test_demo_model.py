"""What the packaged demo model has learned, on held-out synthetic stacks (seeds < 1000).

The model was trained on generator seeds >= 1000 only. These tests use the
public ``VideoSession`` API the way a user does. They need the trained file
(``src/napari_sam2/model_data/sam2_demo.pt``) and are skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_sam2.engine.session import VideoSession
from napari_sam2.engine.synthetic import StackSpec, box_of, click_point, make_stack
from napari_sam2.model import build_model, get_config

# NAPARI_SAM2_DEMO_CHECKPOINT points the tests at another file (a training run's last.pt).
CHECKPOINT = Path(
    os.environ.get(
        "NAPARI_SAM2_DEMO_CHECKPOINT",
        Path(__file__).resolve().parents[2] / "src" / "napari_sam2" / "model_data" / "sam2_demo.pt",
    )
)
SEEDS = (11, 12, 13, 14)  # held out: training uses seeds >= 1000
MIN_AREA = 80  # cells smaller than this on a frame are not prompted

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHECKPOINT.is_file(), reason=f"demo model not trained yet ({CHECKPOINT})"
    ),
]


@pytest.fixture(scope="module")
def model():
    m = build_model(get_config("demo"))
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)["model"]
    m.load_state_dict(state)  # float16 tensors in the file are cast to the model's float32
    return m.eval()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _cells(labels2d: np.ndarray) -> list[int]:
    ids, counts = np.unique(labels2d, return_counts=True)
    return [int(i) for i, c in zip(ids, counts) if i and c >= MIN_AREA]


def _stack(seed: int, **kw):
    return make_stack(StackSpec(**{"frames": 20, **kw}), seed)


def test_one_positive_click_segments_the_cell(model):
    ious = []
    for seed in SEEDS:
        st = _stack(seed, frames=1)
        session = VideoSession(model, st.image)
        for cell in _cells(st.labels[0]):
            res = session.add_points(0, cell, [click_point(st.labels[0], cell)], [1])
            ious.append(iou(res.mask_of(cell), st.labels[0] == cell))
    assert len(ious) >= 10
    assert np.median(ious) >= 0.85, sorted(ious)


# The shipped model misses this goal of issue 11; strict, so a retrained model
# that meets it turns its xfail into a failure to remove.
_SHORT = "the shipped demo model falls short (docs/training.md): "


def test_box_segments_the_cell(model):
    ious = []
    for seed in SEEDS:
        st = _stack(seed, frames=1)
        session = VideoSession(model, st.image)
        for cell in _cells(st.labels[0]):
            res = session.add_box(0, cell, box_of(st.labels[0], cell))
            ious.append(iou(res.mask_of(cell), st.labels[0] == cell))
    assert np.median(ious) >= 0.9, sorted(ious)


def _touching_pairs(labels2d: np.ndarray) -> list[tuple[int, int]]:
    pairs = []
    for a in _cells(labels2d):
        ring = ndimage.binary_dilation(labels2d == a, iterations=1)
        for b in np.unique(labels2d[ring]):
            if b not in (0, a) and int(b) in _cells(labels2d):
                pairs.append((a, int(b)))
    return pairs


@pytest.mark.xfail(
    strict=True,
    reason=_SHORT + "a negative click leaves 5 % of the neighbour; IoU with the kept cell 0.65",
)
def test_negative_click_removes_a_merged_neighbour(model):
    """A box around two touching cells covers both; a negative click on one removes it."""
    left, kept = negative_click_figures(model, SEEDS)
    assert len(left) >= 5
    assert np.median(left) <= 0.1, sorted(left)
    assert np.median(kept) >= 0.75, sorted(kept)


def negative_click_figures(model, seeds) -> tuple[list[float], list[float]]:
    """Per touching pair: the share of the neighbour left, the IoU with the kept cell."""
    kept, left = [], []
    for seed in seeds:
        st = _stack(seed, frames=1, cells=(10, 16), touching=True)
        lab = st.labels[0]
        session = VideoSession(model, st.image)
        for obj, (a, b) in enumerate(_touching_pairs(lab)[:6], start=1):
            x0, y0, x1, y1 = box_of(np.where(lab == b, a, lab), a)  # the box of a and b together
            session.add_box(0, obj, (x0, y0, x1, y1))
            res = session.add_points(0, obj, [click_point(lab, b)], [0], clear=False)
            mask = res.mask_of(obj)
            left.append(float((mask & (lab == b)).sum() / (lab == b).sum()))
            kept.append(iou(mask, lab == a))
    return left, kept


def _long_lived(st, frames: int) -> list[int]:
    return [
        c
        for c in _cells(st.labels[0])
        if all((st.labels[t] == c).sum() >= MIN_AREA for t in range(frames))
    ]


def _propagate(
    session: VideoSession, cells, st, start: int = 0, masks=None, scores=None
) -> dict[int, list[float]]:
    """IoU per cell and frame from ``start`` on; ``masks[(cell, frame)]`` collects the
    masks, ``scores[(cell, frame)]`` the object scores."""
    out = {c: [] for c in cells}
    for res in session.propagate(start):
        for c in cells:
            out[c].append(iou(res.mask_of(c), st.labels[res.frame] == c))
            if masks is not None:
                masks[(c, res.frame)] = res.mask_of(c)
            if scores is not None:
                scores[(c, res.frame)] = float(res.object_score_logits[res.obj_ids.index(c)])
    return out


def test_propagation_keeps_moving_cells(model):
    ious = propagation_ious(model)
    assert len(ious) >= 100
    assert np.mean(ious) >= 0.8, np.mean(ious)


def propagation_ious(model, scores: list | None = None) -> list[float]:
    """IoU per tracked frame of up to four long-lived cells per stack, one click each;
    ``scores`` collects their object scores (the cells are present on every frame)."""
    ious = []
    for seed in SEEDS:
        st = _stack(seed, divisions=False, enter_leave=False)
        cells = _long_lived(st, 20)[:4]
        session = VideoSession(model, st.image)
        for c in cells:
            session.add_points(0, c, [click_point(st.labels[0], c)], [1])
        frame_scores: dict = {}
        for values in _propagate(session, cells, st, scores=frame_scores).values():
            ious.extend(values[1:])
        if scores is not None:
            scores.extend(v for (_, frame), v in frame_scores.items() if frame > 0)
    return ious


# The correction test's sample: each cell's worst tracked frame where it is visibly
# wrong (IoU below 0.9), on 16 stacks. On the four stacks of SEEDS most worst frames
# sit at IoU 0.9-0.95, wrong by a sliver one to three pixels wide whose deepest
# point lies on the outline: a click there is a coin flip for any model (see
# docs/training.md), and eleven such frames decided pass or fail by luck.
CORRECTION_SEEDS = range(100, 116)
VISIBLY_WRONG = 0.9


def test_correction_click_improves_its_frame_and_the_frames_after(model):
    gains, after, tracked = map(np.asarray, correction_gains(model, CORRECTION_SEEDS))
    wrong = tracked < VISIBLY_WRONG
    raised_frame, raised_after = gains[wrong], after[wrong]
    assert len(raised_frame) >= 20
    assert np.mean(raised_frame) > 0 and np.median(raised_frame) > 0, raised_frame
    assert np.mean(raised_after) >= 0, raised_after


def correction_gains(model, seeds) -> tuple[list[float], list[float], list[float]]:
    """A click on each cell's worst tracked frame: IoU gain there, mean gain after it,
    and that frame's tracked IoU before the click."""
    raised_frame, raised_after, tracked = [], [], []
    for seed in seeds:
        st = _stack(seed, divisions=False, enter_leave=False, noise=0.3, blur=1.6)
        cells = _long_lived(st, 20)[:3]
        session = VideoSession(model, st.image)
        for c in cells:
            session.add_points(0, c, [click_point(st.labels[0], c)], [1])
        shown: dict = {}
        before = _propagate(session, cells, st, masks=shown)
        for c in cells:
            frame = int(np.argmin(before[c][1:15])) + 1  # the worst tracked frame, not near the end
            if before[c][frame] > 0.95:
                continue
            truth = st.labels[frame] == c
            missed, extra = truth & ~shown[(c, frame)], shown[(c, frame)] & ~truth
            region, label = (missed, 1) if missed.sum() >= extra.sum() else (extra, 0)
            depth = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
            y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
            res = session.add_points(frame, c, [(x, y)], [label])
            raised_frame.append(iou(res.mask_of(c), truth) - before[c][frame])
            tracked.append(before[c][frame])
            after = _propagate(session, [c], st, start=frame)[c]
            raised_after.append(np.mean(after[1:]) - np.mean(before[c][frame + 1 :]))
    return raised_frame, raised_after, tracked


def test_object_score_is_negative_where_the_cell_has_left(model):
    # Every leaving cell of 16 stacks (about 25 tracks): one cell that jumps to a
    # neighbour must not decide the figure, as it did when three tracks were scored.
    absent_scores = np.concatenate(list(absent_scores_per_track(model, range(20, 36)).values()))
    assert len(absent_scores) >= 100
    assert np.mean(absent_scores < 0) >= 0.9, absent_scores


def absent_scores_per_track(model, seeds, per_stack: int | None = None) -> dict:
    """``{(seed, cell): object scores on the frames after it left}``, the first
    ``per_stack`` leaving cells of each stack (all of them if None)."""
    tracks: dict[tuple[int, int], np.ndarray] = {}
    for seed in seeds:
        st = _stack(seed, divisions=False, enter_leave=True, speed=2.5)
        present = st.labels.reshape(len(st.labels), -1)
        leavers = [c for c in _cells(st.labels[0]) if not (present == c).any(1)[-1]][:per_stack]
        if not leavers:
            continue
        session = VideoSession(model, st.image)
        for c in leavers:
            session.add_points(0, c, [click_point(st.labels[0], c)], [1])
        scores: dict[int, list[float]] = {c: [] for c in leavers}
        for res in session.propagate(0):
            for c in leavers:
                if not (st.labels[res.frame] == c).any():
                    scores[c].append(float(res.object_score_logits[res.obj_ids.index(c)]))
        tracks.update({(seed, c): np.asarray(v) for c, v in scores.items() if v})
    return tracks
