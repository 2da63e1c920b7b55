"""The pure pieces of automatic mask generation: grids, crops, scores, boxes, NMS.

Semantics follow the reference generator (facebookresearch/sam2,
``automatic_mask_generator.py`` and ``utils/amg.py``, December 2024), written
here with numpy/torch only (no torchvision, no OpenCV):

* point grids are cell centres of an ``n x n`` grid over [0, 1]^2, in
  row-major order (x varies fastest); crop layer ``i`` uses
  ``n // downscale**i`` points per side;
* crop boxes ``(x0, y0, x1, y1)`` (x1, y1 exclusive): the whole frame, then
  layer ``i`` (1-based) tiles it with ``2**i x 2**i`` overlapping crops;
* the stability score of a mask is the IoU of its logits thresholded at
  ``threshold + offset`` and ``threshold - offset``;
* boxes are ``(x0, y0, x1, y1)`` with x1, y1 the *last* pixel inside (so a
  box's width in the records is ``x1 - x0``, as the reference reports it);
* box IoU uses ``(x1 - x0) * (y1 - y0)`` areas; greedy NMS keeps the
  highest score first (stable for ties) and drops boxes with IoU > threshold;
* cleaning fills holes, then removes islands, smaller than an area
  (8-connected, scikit-image); if every island is small the largest stays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from skimage.measure import label as _label

from napari_sam2.engine.labels import label_dtype

__all__ = [
    "box_iou",
    "clean_mask",
    "crop_boxes",
    "layer_point_grids",
    "masks_to_boxes",
    "near_crop_edge",
    "nms",
    "paint_labels",
    "point_grid",
    "stability_scores",
]

LABEL_ORDERS = ("area", "iou")
EDGE_TOLERANCE = 20.0  # px: a box this close to a crop edge (not the frame's) is cut off


def point_grid(n_per_side: int) -> np.ndarray:
    """``(n*n, 2)`` float64 ``(x, y)`` points in [0, 1]: the centres of an n x n grid."""
    if n_per_side < 1:
        return np.zeros((0, 2))
    offset = 1.0 / (2 * n_per_side)
    side = np.linspace(offset, 1.0 - offset, n_per_side)
    xs, ys = np.meshgrid(side, side)  # rows: y; columns: x (x fastest when flattened)
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def layer_point_grids(n_per_side: int, n_layers: int, downscale: int) -> list[np.ndarray]:
    """One normalised grid per crop layer (layer 0 = the whole frame)."""
    return [point_grid(int(n_per_side / downscale**i)) for i in range(n_layers + 1)]


def crop_boxes(
    shape: tuple[int, int], n_layers: int, overlap_ratio: float
) -> list[tuple[tuple[int, int, int, int], int]]:
    """``[((x0, y0, x1, y1), layer), ...]`` for a frame of ``shape`` (H, W)."""
    h, w = shape
    out = [((0, 0, w, h), 0)]
    for layer in range(1, n_layers + 1):
        n = 2**layer
        overlap = int(overlap_ratio * min(h, w) * (2 / n))
        cw = int(math.ceil((overlap * (n - 1) + w) / n))
        ch = int(math.ceil((overlap * (n - 1) + h) / n))
        xs = [int((cw - overlap) * i) for i in range(n)]
        ys = [int((ch - overlap) * i) for i in range(n)]
        for x0 in xs:  # x outer, y inner: the reference's order
            for y0 in ys:
                out.append(((x0, y0, min(x0 + cw, w), min(y0 + ch, h)), layer))
    return out


def stability_scores(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """``(N, H, W)`` logits -> ``(N,)`` IoU of the masks at threshold +- offset.

    A mask empty even at the lower cutoff scores 0 (the reference gives NaN,
    which no threshold keeps).
    """
    inter = (logits > threshold + offset).flatten(1).sum(-1, dtype=torch.int64)
    union = (logits > threshold - offset).flatten(1).sum(-1, dtype=torch.int64)
    return inter.float() / union.clamp(min=1).float()


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` bool -> ``(N, 4)`` int64 ``(x0, y0, x1, y1)``, last pixel inclusive;
    ``(0, 0, 0, 0)`` for an empty mask."""
    n, h, w = masks.shape
    if n == 0:
        return torch.zeros((0, 4), dtype=torch.int64, device=masks.device)
    rows, cols = masks.any(dim=2), masks.any(dim=1)  # (N, H), (N, W)

    def first_last(hit: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.arange(size, device=hit.device)
        first = torch.where(hit, idx, size).amin(dim=1)
        last = torch.where(hit, idx, -1).amax(dim=1)
        return first, last

    y0, y1 = first_last(rows, h)
    x0, x1 = first_last(cols, w)
    boxes = torch.stack([x0, y0, x1, y1], dim=1)
    empty = ~rows.any(dim=1)
    return torch.where(empty[:, None], torch.zeros_like(boxes), boxes)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(N, 4)`` x ``(M, 4)`` xyxy boxes -> ``(N, M)`` IoU (areas ``(x1-x0)*(y1-y0)``)."""
    a, b = a.double(), b.double()
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices kept, by decreasing score.

    Ties in score keep their input order. A box is dropped when its IoU with
    an already kept box is above ``iou_threshold``.
    """
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.int64)
    order = torch.sort(scores.cpu().double(), descending=True, stable=True).indices
    ious = box_iou(boxes.cpu()[order], boxes.cpu()[order])
    over = (ious > iou_threshold).numpy()
    removed = np.zeros(n, dtype=bool)
    keep = []
    for i in range(n):
        if removed[i]:
            continue
        keep.append(i)
        removed |= over[i]
    return order[torch.tensor(keep, dtype=torch.int64)]


def near_crop_edge(
    boxes: torch.Tensor,
    crop_box: tuple[int, int, int, int],
    frame_box: tuple[int, int, int, int],
    atol: float = EDGE_TOLERANCE,
) -> torch.Tensor:
    """``(N,)`` bool: boxes (crop coordinates) touching a crop edge that is not the frame's."""
    x0, y0 = crop_box[:2]
    shifted = boxes.double() + torch.tensor([x0, y0, x0, y0], dtype=torch.float64)
    crop = torch.tensor(crop_box, dtype=torch.float64)
    frame = torch.tensor(frame_box, dtype=torch.float64)
    at_crop = (shifted - crop).abs() <= atol
    at_frame = (shifted - frame).abs() <= atol
    return (at_crop & ~at_frame).any(dim=1)


def clean_mask(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, bool]:
    """Fill holes, then drop islands, of fewer than ``min_area`` pixels.

    Returns the mask and whether it changed. 8-connected components; holes
    touching the border count as holes. If every island is small, the
    largest one is kept.
    """
    mask = np.asarray(mask, dtype=bool)
    if min_area <= 0:
        return mask, False
    changed = False
    holes = _label(~mask, connectivity=2)
    sizes = np.bincount(holes.ravel())
    small = np.flatnonzero(sizes < min_area)
    small = small[small > 0]
    if small.size:
        mask = mask | np.isin(holes, small)
        changed = True
    islands = _label(mask, connectivity=2)
    sizes = np.bincount(islands.ravel())
    if sizes.size > 1:
        small = np.flatnonzero(sizes[1:] < min_area) + 1
        if small.size:
            keep = np.setdiff1d(np.arange(1, sizes.size), small)
            if keep.size == 0:
                keep = np.array([int(np.argmax(sizes[1:])) + 1])
            mask = np.isin(islands, keep)
            changed = True
    return mask, changed


def paint_labels(
    records: Sequence, shape: tuple[int, int], order: str = "area"
) -> np.ndarray:
    """One non-overlapping instance label image of mask records (0 = background).

    ``records`` have ``mask`` (bool, ``shape``), ``area`` and ``predicted_iou``
    (:class:`~napari_sam2.engine.automask.MaskRecord`).

    ``order="area"``: the largest masks are painted first and smaller ones
    on top, so an object inside a larger mask keeps its own label;
    ``order="iou"``: the most confident mask (predicted IoU) claims its
    pixels first, later ones only take unclaimed pixels. Labels are 1..N in
    painting order, skipping masks left with no pixel; uint16 (or uint32).
    """
    if order not in LABEL_ORDERS:
        raise ValueError(f"order must be one of {LABEL_ORDERS}, got {order!r}")
    shape = tuple(int(v) for v in shape)
    if order == "area":
        ranked = sorted(records, key=lambda r: -r.area)
    else:
        ranked = sorted(records, key=lambda r: -r.predicted_iou)
    owner = np.full(shape, -1, dtype=np.int64)
    for k, rec in enumerate(ranked):
        if rec.mask.shape != shape:
            raise ValueError(f"a mask has shape {rec.mask.shape}, the label image {shape}")
        owner[rec.mask if order == "area" else rec.mask & (owner < 0)] = k
    present = np.unique(owner[owner >= 0])
    lut = np.zeros(len(ranked) + 1, dtype=np.int64)
    lut[present + 1] = np.arange(1, present.size + 1)
    return lut[owner + 1].astype(label_dtype(present.size))
