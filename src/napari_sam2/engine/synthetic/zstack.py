"""3D: ellipsoidal cells sliced through z; defocus blur and haze away from each cell's centre."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_sam2.engine.synthetic.cells import place, random_cell
from napari_sam2.engine.synthetic.shapes import crop_box, intensity, normalized_distance, rasterize
from napari_sam2.engine.synthetic.spec import StackSpec
from napari_sam2.engine.synthetic.timelapse import gap_for

HAZE = 0.15  # out-of-focus glow of a cell, relative to its in-focus brightness


def simulate(spec: StackSpec, rng: np.random.Generator, texture: np.ndarray):
    """(labels (Z, H, W) uint16, fluorescence (Z, H, W) float32, parents = {})."""
    n_z, frame = spec.frames, tuple(spec.size)
    h, w = frame
    step = spec.z_step
    cells, centres, radii, z_info = [], [], [], []
    for i in range(int(rng.integers(spec.cells[0], spec.cells[1] + 1))):
        r = rng.uniform(*spec.radius)
        half_z = r * rng.uniform(0.6, 1.0) / step  # slices
        lo, hi = 0.2 * (n_z - 1), 0.8 * (n_z - 1)
        bounds = [
            (lo * step, max(hi, lo) * step + 1e-6),
            (0.4 * r, h - 0.4 * r),
            (0.4 * r, w - 0.4 * r),
        ]
        p = place(rng, centres, radii, r, bounds, gap_for(spec))
        if p is None:
            continue
        centres.append(p)
        radii.append(r)
        cells.append(random_cell(rng, spec, len(cells) + 1, p[1], p[2], r))
        tilt = rng.normal(0.0, 0.25, 2)  # px per slice: cells lean a little
        z_info.append((p[0] / step, max(half_z, 0.75), tilt))
    haze = []
    for c, (zc, half_z, tilt) in zip(cells, z_info):  # one heavily blurred equatorial image
        s = c.shape()
        sigma = 0.5 * c.r0 + 2.0
        box = crop_box(s, frame, pad=3.0 * sigma)
        if box is None:
            haze.append(None)
            continue
        d, u, v = normalized_distance(s, box)
        img = ndi.gaussian_filter(intensity(s, d, u, v, texture) * (d < 1), sigma, mode="constant")
        haze.append((box, img))
    labels = np.zeros((n_z, h, w), np.uint16)
    fluo = np.zeros((n_z, h, w), np.float32)
    for z in range(n_z):
        shapes = []
        for c, (zc, half_z, tilt) in zip(cells, z_info):
            dz = z - zc
            zterm = (dz / half_z) ** 2
            if zterm >= 1.0:
                continue
            s = c.shape()
            s.y, s.x = c.y + tilt[0] * dz, c.x + tilt[1] * dz
            s.zterm, s.blur = zterm, spec.defocus * abs(dz)
            shapes.append(s)
        labels[z], fluo[z], _ = rasterize(shapes, frame, texture)
        for hz, (zc, half_z, _t) in zip(haze, z_info):
            if hz is None:
                continue
            (y0, y1, x0, x1), img = hz
            weight = HAZE * np.exp(-0.5 * ((z - zc) / (1.5 * half_z)) ** 2)
            fluo[z, y0:y1, x0:x1] += np.float32(weight) * img
    return labels, fluo, {}
