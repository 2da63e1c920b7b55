"""From fluorescence to a camera image: debris, illumination, occluders, PSF, noise, bits."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_sam2.engine.synthetic.spec import StackSpec


def add_debris(rng, spec: StackSpec, labels: np.ndarray, fluo: np.ndarray) -> np.ndarray | None:
    """Bright, small, unlabelled particles, floating slowly; (T, H, W) bool where they are."""
    if spec.distractors <= 0:
        return None
    n_t, h, w = fluo.shape
    mask = np.zeros(fluo.shape, bool)
    free = np.flatnonzero(labels[0].ravel() == 0)  # start on the background
    zstack = spec.kind == "zstack"
    for _ in range(spec.distractors):
        k = free[int(rng.integers(len(free)))] if len(free) else int(rng.integers(h * w))
        y, x = divmod(int(k), w)
        ry, rx = rng.uniform(1.5, 4.5) * np.array([1.0, rng.uniform(1.0, 2.2)])
        angle = rng.uniform(0, np.pi)
        bright = rng.uniform(1.5, 4.0)
        vy, vx = rng.normal(0.0, 0.4, 2) if not zstack else (0.0, 0.0)
        z0 = rng.uniform(0, n_t - 1)
        for t in range(n_t):
            level = np.exp(-0.5 * (t - z0) ** 2) if zstack else 1.0
            cy, cx = y + vy * t, x + vx * t
            if level < 0.2:
                continue
            r = int(np.ceil(2 * max(ry, rx))) + 1
            y0, y1 = max(int(cy) - r, 0), min(int(cy) + r + 1, h)
            x0, x1 = max(int(cx) - r, 0), min(int(cx) + r + 1, w)
            if y0 >= y1 or x0 >= x1:
                continue
            dy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
            dx = np.arange(x0, x1, dtype=np.float32)[None, :] - cx
            u = dx * np.cos(angle) + dy * np.sin(angle)
            v = dy * np.cos(angle) - dx * np.sin(angle)
            d2 = (u / rx) ** 2 + (v / ry) ** 2
            fluo[t, y0:y1, x0:x1] += np.float32(bright * level) * np.exp(-1.5 * d2)
            mask[t, y0:y1, x0:x1] |= d2 < 1.0
    return mask


def illumination(rng, spec: StackSpec) -> np.ndarray:
    """(H, W) gain in (0, 1]: off-centre vignetting plus a linear gradient."""
    h, w = spec.size
    yy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    cy, cx = rng.uniform(-0.5, 0.5, 2)
    r2 = np.clip(((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0, 0, 1)
    a = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(a) * xx + np.sin(a) * yy + 1.5) / 3.0
    gain = 1.0 - spec.background * (0.6 * r2 + 0.4 * ramp)
    return np.clip(gain, 0.05, 1.0).astype(np.float32)


def autofluorescence(rng, spec: StackSpec) -> np.ndarray:
    """(H, W) smooth, lumpy background level."""
    h, w = spec.size
    coarse = rng.uniform(0.7, 1.3, (6, 6))
    lumps = ndi.zoom(coarse, (h / 6, w / 6), order=3, grid_mode=True, mode="nearest")[:h, :w]
    return (spec.autofluorescence * lumps).astype(np.float32)


def _soft_disk(h, w, cy, cx, r):
    yy = np.arange(h, dtype=np.float32)[:, None] - np.float32(cy)
    xx = np.arange(w, dtype=np.float32)[None, :] - np.float32(cx)
    return 1.0 / (1.0 + np.exp(np.clip((np.sqrt(yy * yy + xx * xx) / r - 1.0) * 5.0, -30, 30)))


def plan_occlusions(rng, spec: StackSpec, labels: np.ndarray) -> list[dict]:
    """Events: a dark or bright blob crossing the field over a cell, or a run of blurred,
    dim frames."""
    n_t, (h, w) = spec.frames, spec.size
    events = []
    for _ in range(spec.occlusion):
        kind = ["dark", "bright", "frames"][int(rng.integers(3))]
        t0 = int(rng.integers(1, n_t)) if n_t > 1 else 0  # frame 0 (the usual prompt) stays clear
        if kind == "frames":
            t1 = min(n_t, t0 + int(rng.integers(1, 4)))
            events.append(
                {
                    "kind": kind,
                    "frames": range(t0, t1),
                    "sigma": rng.uniform(2.5, 5.0),
                    "dim": rng.uniform(0.3, 0.6),
                }
            )
        else:
            t1 = min(n_t, t0 + int(rng.integers(3, 9)))
            mid = rng.uniform(0.2, 0.8, 2) * (h, w)
            ys, xs = np.nonzero(labels[(t0 + t1) // 2])
            if len(ys):  # its path crosses a cell half-way
                k = int(rng.integers(len(ys)))
                mid = np.array([ys[k], xs[k]], float)
            way = rng.normal(0.0, 1.0, 2)
            way *= rng.uniform(0.3, 0.6) * min(h, w) / (np.linalg.norm(way) + 1e-9)
            strength = rng.uniform(0.6, 0.85) if kind == "dark" else rng.uniform(1.0, 2.0)
            events.append(
                {
                    "kind": kind,
                    "frames": range(t0, t1),
                    "start": mid - way,
                    "end": mid + way,
                    "radius": rng.uniform(0.12, 0.25) * min(h, w),
                    "strength": strength,
                }
            )
    return events


def apply_blobs(events, fluo: np.ndarray) -> None:
    """Occluding blobs, in place, on the fluorescence before the PSF."""
    _, h, w = fluo.shape
    for e in events:
        if e["kind"] == "frames":
            continue
        n = max(len(e["frames"]) - 1, 1)
        for i, t in enumerate(e["frames"]):
            cy, cx = e["start"] + (e["end"] - e["start"]) * (i / n)
            disk = _soft_disk(h, w, cy, cx, e["radius"])
            if e["kind"] == "dark":
                fluo[t] *= 1.0 - np.float32(e["strength"]) * disk
            else:
                fluo[t] += np.float32(e["strength"]) * disk


def apply_bad_frames(events, fluo: np.ndarray) -> None:
    """Defocused, dim frames, in place, after the PSF."""
    for e in events:
        if e["kind"] != "frames":
            continue
        for t in e["frames"]:
            fluo[t] = ndi.gaussian_filter(fluo[t], e["sigma"]) * np.float32(e["dim"])


def camera(rng, spec: StackSpec, fluo: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Shot and read noise, offset, gain, clipping to uint8 / uint16.

    Poisson-Gaussian noise in its heteroscedastic Gaussian form (variance = signal
    in photons + read noise): as a real camera's at these counts, and several
    times faster than drawing Poisson variates.
    """
    x = np.clip(fluo, 0.0, None)
    dark_sd = 0.0  # noise on a dim background, in units of cytoplasm brightness
    if spec.noise > 0:
        photons = np.float32(1.0 / spec.noise**2)  # per unit of cytoplasm brightness
        read = np.float32((0.25 * spec.noise) ** 2)
        dark_sd = float(np.sqrt(read + spec.autofluorescence / photons))
        sd = np.sqrt(x / photons + read)
        x = x + sd * rng.standard_normal(x.shape, dtype=np.float32)
    top = 255.0 if spec.dtype == "uint8" else float(rng.choice([4095.0, 16383.0, 65535.0]))
    cells = fluo[:, ::4, ::4][labels[:, ::4, ::4] > 0]  # the brightest cells set the exposure
    bright = float(np.percentile(cells if cells.size > 50 else fluo[:, ::4, ::4], 99.5)) or 1.0
    fill = rng.uniform(0.6, 0.85)  # the bright cells reach this fraction of the range
    offset = min(top * rng.uniform(0.01, 0.05) + 3.0 * dark_sd * fill * top / bright, 0.3 * top)
    gain = (top - offset) * fill / bright
    x *= np.float32(gain)
    x += np.float32(offset)
    np.clip(x, 0.0, top, out=x)  # the camera saturates at its bit depth
    return np.rint(x, out=x).astype(spec.dtype)
