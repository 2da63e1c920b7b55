"""Mask post-processing on any device, with numpy and scikit-image.

The reference fills small holes with a CUDA connected-components kernel and
silently skips the step without it. Here the same semantics run on the CPU:
components use 8-connectivity (the kernel unions all eight neighbours), a
component's area is its pixel count, and "small" means ``area <= max_area``.

Reference semantics (facebookresearch/sam2, Dec 2024): the video predictor
only fills holes (``fill_holes_in_mask_scores``: background components of
``logits <= 0`` become 0.1); removing small foreground "sprinkles" (set to
-0.1 here) is a separate, optional step, :func:`remove_sprinkles_in_logits`.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.measure import label

__all__ = [
    "apply_non_overlap",
    "connected_components",
    "fill_holes_in_logits",
    "remove_small_objects_and_holes",
    "remove_sprinkles_in_logits",
]

HOLE_VALUE = 0.1  # small positive score: the hole becomes foreground, barely
SPRINKLE_VALUE = -0.1
NON_OVERLAP_MAX = -10.0  # sigmoid(-10) = 4.5e-5: suppressed, still a valid logit


def connected_components(mask: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of each 2-D image of a ``(..., H, W)`` bool mask.

    Returns ``labels`` (0 for background, component ids per image otherwise)
    and ``areas`` (the pixel count of each pixel's component, 0 for
    background), both int64 arrays of the mask's shape, like the reference's
    ``get_connected_components``.
    """
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim < 2:
        raise ValueError(f"mask needs at least 2 dimensions, got shape {mask.shape}")
    flat = mask.reshape(-1, *mask.shape[-2:])
    labels = np.zeros(flat.shape, np.int64)
    areas = np.zeros(flat.shape, np.int64)
    for i, m in enumerate(flat):
        if not m.any():
            continue
        lab = label(m, connectivity=2)
        counts = np.bincount(lab.ravel())
        counts[0] = 0  # background pixels get area 0
        labels[i], areas[i] = lab, counts[lab]
    return labels.reshape(mask.shape), areas.reshape(mask.shape)


def _small_components(region: torch.Tensor, max_area: int) -> torch.Tensor:
    """Bool tensor (on ``region``'s device): pixels of components with area <= max_area."""
    labels, areas = connected_components(region)
    small = (labels > 0) & (areas <= max_area)
    return torch.from_numpy(small).to(region.device)


def fill_holes_in_logits(
    logits: torch.Tensor, max_area: int, *, threshold: float = 0.0, value: float = HOLE_VALUE
) -> torch.Tensor:
    """Fill small holes in mask logits ``(N, 1, h, w)`` (any ``(..., h, w)`` works).

    Background components (``logits <= threshold``) of area <= ``max_area``
    are set to ``value`` (0.1, as the reference); other pixels unchanged.
    ``max_area <= 0`` returns ``logits`` unchanged.
    """
    if max_area <= 0 or logits.numel() == 0:
        return logits
    holes = _small_components(logits <= threshold, max_area)
    return torch.where(holes, torch.as_tensor(value, dtype=logits.dtype), logits)


def remove_sprinkles_in_logits(
    logits: torch.Tensor, max_area: int, *, threshold: float = 0.0, value: float = SPRINKLE_VALUE
) -> torch.Tensor:
    """Remove small foreground specks: components of ``logits > threshold`` with
    area <= ``max_area`` are set to ``value`` (-0.1). ``max_area <= 0``: unchanged."""
    if max_area <= 0 or logits.numel() == 0:
        return logits
    specks = _small_components(logits > threshold, max_area)
    return torch.where(specks, torch.as_tensor(value, dtype=logits.dtype), logits)


def apply_non_overlap(logits: torch.Tensor) -> torch.Tensor:
    """Keep, at each pixel, only the object (dim 0) with the highest logit.

    Other objects' logits there are clamped to at most -10.0, so thresholded
    masks never overlap. Ties go to the lowest object index. One object:
    returned unchanged.
    """
    if logits.shape[0] <= 1:
        return logits
    winner = torch.argmax(logits, dim=0, keepdim=True)
    objects = torch.arange(logits.shape[0], device=logits.device)
    objects = objects.view(-1, *([1] * (logits.ndim - 1)))
    return torch.where(winner == objects, logits, logits.clamp(max=NON_OVERLAP_MAX))


def remove_small_objects_and_holes(mask: np.ndarray, min_area: int) -> np.ndarray:
    """A copy of bool ``mask`` ``(..., H, W)`` without small pieces, per 2-D image.

    Foreground components smaller than ``min_area`` pixels are removed, then
    background components smaller than ``min_area`` (holes, also at the
    border, as in the reference) are filled; 8-connectivity for both.
    """
    out = np.array(mask, dtype=bool, copy=True)
    if min_area <= 1:
        return out
    labels, areas = connected_components(out)
    out[(labels > 0) & (areas < min_area)] = False
    labels, areas = connected_components(~out)
    out[(labels > 0) & (areas < min_area)] = True
    return out
