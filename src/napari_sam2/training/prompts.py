"""Simulated user prompts: a first click or box, then corrective clicks.

As in SAM 2's training recipe: the first prompt of an object is a click
inside it, a (noisy) box around it, or its mask; every later click is
sampled from the error region of the current prediction: positive on a
missed part of the object, negative on a wrongly included part.

Coordinates are ``(x, y)`` pixels of the model input (x = column), as the
model's ``segment`` takes them; labels 1 positive, 0 negative, 2/3 box corners.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage


def _pick(
    region: np.ndarray, rng: np.random.Generator, central: bool
) -> tuple[float, float] | None:
    """A pixel of ``region`` (H, W) bool: uniform, or the one farthest from its border."""
    if not region.any():
        return None
    if central:
        # What a user does: click the middle of the largest error blob.
        dist = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
        best = np.flatnonzero(dist >= dist.max() - 1e-6)
        idx = best[rng.integers(len(best))]
    else:
        idx = rng.choice(np.flatnonzero(region))
    y, x = divmod(int(idx), region.shape[1])
    return float(x), float(y)


def first_click(
    mask: np.ndarray, rng: np.random.Generator, p_central: float = 0.5
) -> tuple[float, float]:
    """A positive click inside ``mask`` (uniform or central); the image centre if empty."""
    pt = _pick(mask, rng, rng.random() < p_central)
    if pt is None:
        return mask.shape[1] / 2, mask.shape[0] / 2
    return pt


def noisy_box(mask: np.ndarray, rng: np.random.Generator, noise: float = 0.1, max_px: float = 20.0):
    """The bounding box of ``mask``, each corner moved by N(0, noise * side), at most
    ``max_px``."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    if len(xs) == 0:
        return np.array([0.0, 0.0, w - 1.0, h - 1.0])
    box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)
    side = np.array([box[2] - box[0], box[3] - box[1]] * 2)
    jitter = np.clip(rng.normal(0.0, 1.0, 4) * noise * side, -max_px, max_px)
    box = box + jitter
    x0, x1 = sorted((box[0], box[2]))
    y0, y1 = sorted((box[1], box[3]))
    return np.clip(np.array([x0, y0, x1, y1]), 0, [w - 1, h - 1, w - 1, h - 1])


def corrective_click(
    pred: np.ndarray, truth: np.ndarray, rng: np.random.Generator, p_central: float = 0.5
) -> tuple[tuple[float, float], int] | None:
    """A click on the error region of ``pred`` vs ``truth`` (both (H, W) bool), or None if perfect.

    The larger of the two error kinds is corrected (positive click on missed
    pixels, negative click on false ones); SAM 2 samples the error region
    uniformly, users click its middle: both are used, ``p_central`` of the time the middle.
    """
    fn = truth & ~pred
    fp = pred & ~truth
    n_fn, n_fp = int(fn.sum()), int(fp.sum())
    if n_fn == 0 and n_fp == 0:
        return None
    positive = rng.random() < n_fn / (n_fn + n_fp)
    region = fn if positive else fp
    if rng.random() < p_central:
        # The largest connected blob of that error kind.
        lab, n = ndimage.label(region)
        if n > 1:
            sizes = ndimage.sum_labels(region, lab, index=np.arange(1, n + 1))
            region = lab == (int(np.argmax(sizes)) + 1)
        pt = _pick(region, rng, central=True)
    else:
        pt = _pick(region, rng, central=False)
    return pt, int(positive)  # type: ignore[return-value]


class PromptSet:
    """The growing prompt of a batch of objects on one frame, as model tensors."""

    def __init__(self, batch: int) -> None:
        self.coords: list[list[tuple[float, float]]] = [[] for _ in range(batch)]
        self.labels: list[list[int]] = [[] for _ in range(batch)]

    def add(self, row: int, xy: tuple[float, float], label: int) -> None:
        self.coords[row].append((float(xy[0]), float(xy[1])))
        self.labels[row].append(int(label))

    def add_box(self, row: int, box) -> None:
        self.add(row, (box[0], box[1]), 2)
        self.add(row, (box[2], box[3]), 3)

    @property
    def num_points(self) -> int:
        return len(self.labels[0])

    def tensors(self, device) -> tuple[torch.Tensor, torch.Tensor] | tuple[None, None]:
        """``(B, N, 2)`` coords and ``(B, N)`` labels; rows padded with label -1 to equal length."""
        n = max(len(lab) for lab in self.labels)
        if n == 0:
            return None, None
        b = len(self.labels)
        coords = torch.zeros(b, n, 2)
        labels = torch.full((b, n), -1, dtype=torch.int32)
        for i, (c, lab) in enumerate(zip(self.coords, self.labels)):
            if lab:
                coords[i, : len(lab)] = torch.tensor(c)
                labels[i, : len(lab)] = torch.tensor(lab, dtype=torch.int32)
        return coords.to(device), labels.to(device)


def add_corrections(
    prompts: PromptSet, pred: torch.Tensor, truth: torch.Tensor, rng: np.random.Generator
) -> bool:
    """One corrective click per row from ``pred`` logits vs ``truth`` (B, H, W); False if all
    perfect.

    Rows whose object is absent, or already perfect, get a padding point (so
    every row has the same number of points).
    """
    pred_np = (pred.detach().float() > 0).cpu().numpy()
    truth_np = truth.cpu().numpy().astype(bool)
    any_click = False
    for row in range(len(pred_np)):
        click = corrective_click(pred_np[row], truth_np[row], rng) if truth_np[row].any() else None
        if click is None:
            prompts.add(row, (0.0, 0.0), -1)
        else:
            prompts.add(row, click[0], click[1])
            any_click = True
    return any_click
