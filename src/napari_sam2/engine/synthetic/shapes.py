"""One cell's geometry and fluorescence, rasterised into a crop of the frame.

A cell is an ellipse (semi-axes `a` along its angle, `b` across) whose radius is
modulated by a few low harmonics (a smooth, wobbly outline), optionally pinched
at the waist before a division. `normalized_distance` is 0 at the centre and 1 on
the outline; where cells overlap, the pixel goes to the cell with the smaller
normalised distance, which splits touching cells along a curved wall (like a
watershed between two blobs) and keeps every label disjoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import ndimage as ndi

TEXTURE_SIZE = 512


@dataclass
class Shape:
    """A cell as seen in one frame (or one z slice)."""

    id: int
    y: float
    x: float
    a: float  # semi-axis along `angle`, px
    b: float  # semi-axis across, px
    angle: float  # radians, from the x axis towards +y
    amps: np.ndarray  # (K,) harmonic amplitudes (relative radius), harmonics 2..K+1
    phases: np.ndarray  # (K,)
    brightness: float  # cytoplasm
    nuc_brightness: float  # added inside the nucleus
    nuclei: list = field(default_factory=list)  # [(fu, fv, fa, fb)] offsets/semi-axes / (a, b)
    tex_off: tuple = (0.0, 0.0)
    waist: float = 0.0  # 0..0.5: pinch across the middle (a dividing mother)
    zterm: float = 0.0  # zstack: ((z - zc) / c) ** 2 ; the cell is absent when >= 1
    blur: float = 0.0  # extra Gaussian blur of this cell only (zstack defocus), px

    def extent(self) -> float:
        return max(self.a, self.b) * (1.0 + float(np.abs(self.amps).sum())) + 1.0


@lru_cache(maxsize=1)
def texture_bank() -> np.ndarray:
    """(2, N, N) float32 tileable noise, zero mean, unit std: granules, fine grain.

    One fixed bank for every stack (built once per process); cells sample it at
    random offsets, so stacks still differ and stay deterministic per seed.
    """
    rng = np.random.default_rng(20_241_123)
    out = np.empty((2, TEXTURE_SIZE, TEXTURE_SIZE), np.float32)
    for i, sigma in enumerate((1.6, 0.8)):
        t = ndi.gaussian_filter(rng.standard_normal((TEXTURE_SIZE,) * 2), sigma, mode="wrap")
        out[i] = (t - t.mean()) / t.std()
    out.flags.writeable = False
    return out


def crop_box(s: Shape, shape: tuple[int, int], pad: float = 0.0):
    """The (y0, y1, x0, x1) crop of the frame around the cell, or None if outside."""
    r = s.extent() + pad
    y0, y1 = max(int(np.floor(s.y - r)), 0), min(int(np.ceil(s.y + r)) + 1, shape[0])
    x0, x1 = max(int(np.floor(s.x - r)), 0), min(int(np.ceil(s.x + r)) + 1, shape[1])
    if y0 >= y1 or x0 >= x1:
        return None
    return y0, y1, x0, x1


def normalized_distance(s: Shape, box):
    """(d, u, v) on the crop: d < 1 inside; (u, v) are cell-frame coordinates, px."""
    y0, y1, x0, x1 = box
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(s.y)
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(s.x)
    c, si = np.float32(np.cos(s.angle)), np.float32(np.sin(s.angle))
    u = dx * c + dy * si
    v = dy * c - dx * si
    theta = np.arctan2(v, u)
    rho = np.sqrt((u / np.float32(s.a)) ** 2 + (v / np.float32(s.b)) ** 2)
    radial = np.ones_like(theta)
    for k, (amp, ph) in enumerate(zip(s.amps, s.phases), start=2):
        radial += np.float32(amp) * np.cos(k * theta - np.float32(ph))
    if s.waist > 0:
        radial *= 1.0 - np.float32(s.waist) * np.exp(-(np.cos(theta) ** 2) / np.float32(0.08))
    d = rho / np.maximum(radial, np.float32(0.2))
    if s.zterm > 0:
        d = np.sqrt(d * d + np.float32(s.zterm))
    return d, u, v


def intensity(s: Shape, d, u, v, texture: np.ndarray) -> np.ndarray:
    """The cell's fluorescence at the given pixels: textured cytoplasm + nuclei."""
    n = texture.shape[-1]
    iu = np.floor(u + np.float32(s.tex_off[0])).astype(np.intp) % n
    iv = np.floor(v + np.float32(s.tex_off[1])).astype(np.intp) % n
    gran, fine = texture[0][iu, iv], texture[1][iu, iv]
    thick = np.clip(1.0 - d * d, 0.0, 1.0)  # a cell is thickest (brightest) in the middle
    out = (0.5 + 0.5 * thick) * np.clip(1.0 + 0.35 * gran, 0.2, None)
    out += 0.8 * (gran > 1.8)  # bright vesicles
    out *= np.float32(s.brightness)
    for fu, fv, fa, fb in s.nuclei:
        dn = np.sqrt(((u - fu * s.a) / (fa * s.a)) ** 2 + ((v - fv * s.b) / (fb * s.b)) ** 2)
        nuc = 1.0 / (1.0 + np.exp(np.clip((dn - 1.0) * 10.0, -30, 30)))
        out += np.float32(s.nuc_brightness) * nuc * np.clip(1.0 + 0.4 * fine, 0.2, None)
    return out


def rasterize(shapes: list[Shape], frame: tuple[int, int], texture: np.ndarray):
    """Labels (uint16) and fluorescence (float32) of one frame; ids of the visible cells.

    Overlaps go to the cell with the smaller normalised distance, so labels are
    disjoint and every visible cell keeps at least its centre.
    """
    labels = np.zeros(frame, np.uint16)
    best = np.full(frame, np.inf, np.float32)
    fluo = np.zeros(frame, np.float32)
    crops = []
    for s in shapes:
        pad = 3.0 * s.blur + 1.0
        box = crop_box(s, frame, pad)
        if box is None:
            continue
        d, u, v = normalized_distance(s, box)
        y0, y1, x0, x1 = box
        win = best[y0:y1, x0:x1]
        take = (d < 1.0) & (d < win)
        if not take.any():
            continue
        win[take] = d[take]
        labels[y0:y1, x0:x1][take] = s.id
        crops.append((s, box, d, u, v))
    visible = set()
    for s, box, d, u, v in crops:
        y0, y1, x0, x1 = box
        mine = labels[y0:y1, x0:x1] == s.id
        if not mine.any():  # hidden by neighbours drawn later
            continue
        visible.add(s.id)
        img = np.zeros(mine.shape, np.float32)
        img[mine] = intensity(s, d[mine], u[mine], v[mine], texture)
        if s.blur > 0.3:
            img = ndi.gaussian_filter(img, s.blur, mode="constant")
        fluo[y0:y1, x0:x1] += img
    return labels, fluo, visible
