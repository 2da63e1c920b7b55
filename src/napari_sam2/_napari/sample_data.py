"""Synthetic fluorescence data for the sample-data menu, demos and tests.

Cells are soft ellipses (dim cytoplasm, bright nucleus) on a noisy
background, rendered in numpy only and returned as uint16 like a camera
image. The time-lapse has cells that drift and divide; the z-stack has
ellipsoidal cells whose brightness fades out of focus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LayerData = tuple[np.ndarray, dict, str]


@dataclass
class _Cell:
    y: float
    x: float
    radius: float
    angle: float
    vy: float
    vx: float
    divide_at: int | None = None


def _soft_disk(yy, xx, cy, cx, ry, rx, angle, edge=1.5) -> np.ndarray:
    """A 0..1 ellipse with a sigmoid edge (looks like a blurred cell outline)."""
    c, s = np.cos(angle), np.sin(angle)
    dy, dx = yy - cy, xx - cx
    u = (dx * c + dy * s) / rx
    v = (-dx * s + dy * c) / ry
    r = np.sqrt(u * u + v * v)
    return 1.0 / (1.0 + np.exp((r - 1.0) * min(rx, ry) / edge))


def _render(shape, cells, rng, background=120.0, noise=30.0) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    img = np.full(shape, background, np.float32)
    for cell in cells:
        body = _soft_disk(yy, xx, cell.y, cell.x, cell.radius, cell.radius * 1.3, cell.angle)
        nucleus = _soft_disk(
            yy, xx, cell.y, cell.x, cell.radius * 0.45, cell.radius * 0.55, cell.angle
        )
        img += 900.0 * body + 1800.0 * nucleus
    img += rng.normal(0.0, noise, shape)
    img = rng.poisson(np.clip(img, 0, None)).astype(np.float32)  # shot noise
    return np.clip(img, 0, 65535).astype(np.uint16)


def make_timelapse(
    n_frames: int = 20, size: int = 256, n_cells: int = 5, seed: int = 0
) -> np.ndarray:
    """A (T, Y, X) uint16 time-lapse of drifting cells, some of which divide."""
    rng = np.random.default_rng(seed)
    radius = size / 16
    cells = [
        _Cell(
            y=rng.uniform(0.25, 0.75) * size,
            x=rng.uniform(0.2, 0.8) * size,
            radius=radius * rng.uniform(0.85, 1.15),
            angle=rng.uniform(0, np.pi),
            vy=rng.normal(0, size / 200),
            vx=rng.normal(0, size / 200),
            divide_at=int(rng.integers(n_frames // 3, 2 * n_frames // 3))
            if i % 2 == 0 and n_frames >= 3
            else None,
        )
        for i in range(n_cells)
    ]
    frames = []
    for t in range(n_frames):
        frames.append(_render((size, size), cells, rng))
        next_cells = []
        for cell in cells:
            cell.y = float(np.clip(cell.y + cell.vy, radius, size - radius))
            cell.x = float(np.clip(cell.x + cell.vx, radius, size - radius))
            if cell.divide_at == t + 1:  # split along the long axis, daughters move apart
                off = cell.radius * 0.9
                dx, dy = off * np.cos(cell.angle), off * np.sin(cell.angle)
                for sign in (-1, 1):
                    next_cells.append(
                        _Cell(
                            cell.y + sign * dy,
                            cell.x + sign * dx,
                            cell.radius * 0.8,
                            cell.angle + np.pi / 2,
                            cell.vy + sign * dy / 6,
                            cell.vx + sign * dx / 6,
                        )
                    )
            else:
                next_cells.append(cell)
        cells = next_cells
    return np.stack(frames)


def make_zstack(n_slices: int = 20, size: int = 256, n_cells: int = 6, seed: int = 1) -> np.ndarray:
    """A (Z, Y, X) uint16 stack of ellipsoidal cells, dimmer away from their centre plane."""
    rng = np.random.default_rng(seed)
    radius = size / 14
    cells = [
        (
            _Cell(
                rng.uniform(0.2, 0.8) * size,
                rng.uniform(0.2, 0.8) * size,
                radius * rng.uniform(0.8, 1.2),
                rng.uniform(0, np.pi),
                0.0,
                0.0,
            ),
            rng.uniform(0.3, 0.7) * n_slices,
            n_slices * rng.uniform(0.25, 0.4),
        )
        for _ in range(n_cells)
    ]
    slices = []
    for z in range(n_slices):
        visible = []
        for cell, zc, half in cells:
            frac = 1.0 - ((z - zc) / half) ** 2  # ellipsoid cross-section
            if frac > 0.05:
                c = _Cell(cell.y, cell.x, cell.radius * np.sqrt(frac), cell.angle, 0, 0)
                visible.append(c)
        slices.append(_render((size, size), visible, rng))
    return np.stack(slices)


def timelapse_sample() -> list[LayerData]:
    """npe2 sample data: the 2D+t time-lapse."""
    return [
        (
            make_timelapse(),
            {"name": "cells (2D+t)", "colormap": "gray", "axis_labels": ("t", "y", "x")},
            "image",
        )
    ]


def zstack_sample() -> list[LayerData]:
    """npe2 sample data: the 3D stack."""
    return [
        (
            make_zstack(),
            {"name": "cells (3D)", "colormap": "gray", "axis_labels": ("z", "y", "x")},
            "image",
        )
    ]
