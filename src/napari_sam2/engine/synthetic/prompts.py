"""Prompts from ground truth: a click well inside a cell, its bounding box."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def _crop(labels2d: np.ndarray, cell_id: int):
    mask = np.asarray(labels2d) == cell_id
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        raise ValueError(f"cell {cell_id} is not in this frame")
    return mask, rows[0], rows[-1], cols[0], cols[-1]


def click_point(labels2d: np.ndarray, cell_id: int, rng=None) -> tuple[int, int]:
    """(x, y) = (column, row) of a pixel well inside the cell.

    Without `rng`: the deepest pixel (maximum of the distance to the outline).
    With a `np.random.Generator`: a random pixel at least half as deep as that,
    for varied but still unambiguous training clicks.
    """
    mask, r0, r1, c0, c1 = _crop(labels2d, cell_id)
    sub = np.pad(mask[r0 : r1 + 1, c0 : c1 + 1], 1)  # the frame edge counts as outline too
    depth = ndi.distance_transform_edt(sub)[1:-1, 1:-1]
    if rng is None:
        y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    else:
        ys, xs = np.nonzero(depth >= 0.5 * depth.max())
        i = int(rng.integers(len(ys)))
        y, x = ys[i], xs[i]
    return int(x + c0), int(y + r0)


def box_of(labels2d: np.ndarray, cell_id: int, rng=None, jitter: float = 0.1) -> tuple:
    """(x0, y0, x1, y1): the cell's tight bounding box, in pixel coordinates (inclusive).

    With a `np.random.Generator`, each side moves by a Gaussian of `jitter` times the
    box's size (clipped to the frame), as in SAM's box-prompt training.
    """
    labels2d = np.asarray(labels2d)
    _, r0, r1, c0, c1 = _crop(labels2d, cell_id)
    if rng is None:
        return int(c0), int(r0), int(c1), int(r1)
    h, w = labels2d.shape
    bw, bh = c1 - c0 + 1, r1 - r0 + 1
    dx0, dx1 = rng.normal(0.0, jitter * bw, 2)
    dy0, dy1 = rng.normal(0.0, jitter * bh, 2)
    x0, x1 = np.clip([c0 + dx0, c1 + dx1], 0, w - 1)
    y0, y1 = np.clip([r0 + dy0, r1 + dy1], 0, h - 1)
    return float(min(x0, x1)), float(min(y0, y1)), float(max(x0, x1)), float(max(y0, y1))
