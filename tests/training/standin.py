"""A tiny labelled stack of moving bright discs (no dependency on the generator)."""

from __future__ import annotations

import numpy as np

from napari_sam2.training.data import LabelledStack


def disc_stack(seed: int, frames: int = 10, size: int = 64, cells: int = 3) -> LabelledStack:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    centres = rng.uniform(size * 0.25, size * 0.75, (cells, 2))
    radii = rng.uniform(size * 0.08, size * 0.15, cells)
    velocity = rng.normal(0, 1.0, (cells, 2))
    image = np.zeros((frames, size, size), np.float32)
    labels = np.zeros((frames, size, size), np.uint16)
    for t in range(frames):
        for i, ((cy, cx), r) in enumerate(zip(centres + t * velocity, radii)):
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
            labels[t][inside] = i + 1
            image[t][inside] = 0.5 + 0.1 * i
    image += rng.normal(0, 0.05, image.shape).astype(np.float32)
    image = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    return LabelledStack(image, labels, True, f"discs:{seed}")
