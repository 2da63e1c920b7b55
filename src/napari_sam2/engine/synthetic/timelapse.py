"""2D + t: cells random-walk with drift, rotate, deform, touch, divide, enter and leave."""

from __future__ import annotations

import numpy as np

from napari_sam2.engine.synthetic.cells import Cell, place, random_cell
from napari_sam2.engine.synthetic.shapes import rasterize
from napari_sam2.engine.synthetic.spec import StackSpec

ELONGATE = 4  # frames a mother stretches and pinches before it splits
UNSEEN_FRAMES = 8  # a new cell that has not shown up in the field by then is dropped


def gap_for(spec: StackSpec) -> float:
    """Closest allowed centre distance, as a fraction of the sum of two radii."""
    return spec.packing if spec.touching else 1.55


class _Ids:
    def __init__(self):
        self.last = 0

    def __call__(self) -> int:
        self.last += 1
        return self.last


def _next_division(rng, spec: StackSpec, t: int, first: bool = False):
    if not spec.divisions:
        return None
    if first:  # cells at the start are at a random phase of their cycle
        return t + ELONGATE + 1 + int(rng.uniform(0, 1.3 * spec.cycle))
    return t + max(ELONGATE + 2, int(spec.cycle * rng.uniform(0.8, 1.2)))


def _initial_cells(rng, spec: StackSpec, new_id) -> list[Cell]:
    (h, w), t_end = spec.size, spec.frames
    cells: list[Cell] = []
    for _ in range(int(rng.integers(spec.cells[0], spec.cells[1] + 1))):
        r = rng.uniform(*spec.radius)
        m = 0.6 * r if not spec.enter_leave else 0.2 * r
        bounds = [(m, max(h - m, m + 1)), (m, max(w - m, m + 1))]
        p = place(rng, [(c.y, c.x) for c in cells], [c.r0 for c in cells], r, bounds, gap_for(spec))
        if p is None:
            continue
        c = random_cell(rng, spec, new_id(), p[0], p[1], r)
        c.drift = tuple(rng.normal(0.0, 0.3 * spec.speed, 2))
        c.divide_at = _next_division(rng, spec, 0, first=True)
        cells.append(c)
    if not cells:
        return cells
    centre = np.array([h / 2, w / 2])
    leaver = None
    if spec.enter_leave and t_end >= 6 and len(cells) > 1:  # the one nearest a border leaves
        border = [min(c.y, h - c.y, c.x, w - c.x) for c in cells]
        leaver = cells[int(np.argmin(border))]
        out = np.array([leaver.y, leaver.x]) - centre
        out /= np.linalg.norm(out) + 1e-9
        travel = min(leaver.y, h - leaver.y, leaver.x, w - leaver.x) + 2.5 * leaver.r0
        leaver.drift = tuple(out * max(travel / (t_end * rng.uniform(0.4, 0.8)), spec.speed))
        leaver.divide_at = None
    if spec.divisions and t_end >= ELONGATE + 3:  # at least one division, near the centre
        stay = [c for c in cells if c is not leaver]
        if stay and all(c.divide_at is None or c.divide_at > t_end - 2 for c in stay):
            near = min(stay, key=lambda c: np.hypot(c.y - centre[0], c.x - centre[1]))
            near.divide_at = int(rng.integers(ELONGATE + 1, t_end - 1))
    return cells


def _spawn(rng, spec: StackSpec, new_id, t: int) -> Cell:
    """A cell at a border, half outside, drifting in."""
    h, w = spec.size
    r = rng.uniform(*spec.radius)
    side = int(rng.integers(4))
    along = rng.uniform(0.15, 0.85)
    y, x, inward = [
        (-0.5 * r, along * w, (1.0, 0.0)),
        (h + 0.5 * r, along * w, (-1.0, 0.0)),
        (along * h, -0.5 * r, (0.0, 1.0)),
        (along * h, w + 0.5 * r, (0.0, -1.0)),
    ][side]
    c = random_cell(rng, spec, new_id(), y, x, r)
    c.drift = tuple(np.array(inward) * max(1.0, spec.speed) * rng.uniform(1.2, 2.0))
    c.born = t
    c.divide_at = _next_division(rng, spec, t, first=True)
    return c


def _divide(rng, spec: StackSpec, mother: Cell, new_id, t: int) -> list[Cell]:
    """Two daughters along the mother's long axis, at frame t."""
    s = mother.shape(1.0)
    ca, sa = np.cos(mother.angle), np.sin(mother.angle)
    kick = 0.6 + 0.4 * spec.speed
    out = []
    for sign in (-1.0, 1.0):
        off = sign * 0.45 * s.a
        d = random_cell(
            rng,
            spec,
            new_id(),
            mother.y + off * sa,
            mother.x + off * ca,
            r0=mother.r0 * rng.uniform(0.92, 1.08),
        )
        d.scale = 0.72
        d.ratio = float(rng.uniform(1.0, 1.3))
        d.angle = mother.angle + np.pi / 2 + rng.normal(0.0, 0.3)
        d.brightness = mother.brightness * rng.uniform(0.9, 1.1)
        d.nuc_brightness = mother.nuc_brightness * rng.uniform(0.9, 1.1)
        d.vy, d.vx = sign * sa * kick, sign * ca * kick
        d.drift = mother.drift
        d.born = t
        d.divide_at = _next_division(rng, spec, t)
        out.append(d)
    return out


def _move(rng, spec: StackSpec, cells: list[Cell]) -> None:
    h, w = spec.size
    for c in cells:
        c.vy = 0.6 * c.vy + rng.normal(0.0, spec.speed)
        c.vx = 0.6 * c.vx + rng.normal(0.0, spec.speed)
        c.y += c.drift[0] + c.vy
        c.x += c.drift[1] + c.vx
        c.scale = min(1.0, c.scale + 0.5 / max(spec.cycle, 1))
        c.evolve(rng, spec)
        if not spec.enter_leave:  # bounce off the borders, centres stay in the field
            m = 0.6 * c.radius
            for axis, hi in (("y", h), ("x", w)):
                p, v = getattr(c, axis), "v" + axis
                if p < m or p > hi - m:
                    setattr(c, axis, float(np.clip(2 * np.clip(p, m, hi - m) - p, 0, hi)))
                    setattr(c, v, -getattr(c, v))
                    k = 0 if axis == "y" else 1
                    drift = list(c.drift)
                    drift[k] = abs(drift[k]) if p < m else -abs(drift[k])
                    c.drift = tuple(drift)
    if len(cells) > 1:  # neighbours push apart when closer than allowed
        p = np.array([(c.y, c.x) for c in cells])
        r = np.array([c.radius for c in cells])
        diff = p[:, None] - p[None]
        dist = np.maximum(np.hypot(diff[..., 0], diff[..., 1]), 1e-3)
        over = np.clip(gap_for(spec) * (r[:, None] + r[None]) - dist, 0.0, None)
        np.fill_diagonal(over, 0.0)
        push = (diff / dist[..., None] * (0.5 * over)[..., None]).sum(axis=1)
        norm = np.maximum(np.hypot(push[:, 0], push[:, 1]) / 3.0, 1.0)  # <= 3 px/frame
        for c, dp in zip(cells, push / norm[:, None]):
            c.y += float(dp[0])
            c.x += float(dp[1])


def simulate(spec: StackSpec, rng: np.random.Generator, texture: np.ndarray):
    """(labels (T, H, W) uint16, fluorescence (T, H, W) float32, parents)."""
    t_end, frame = spec.frames, tuple(spec.size)
    labels = np.zeros((t_end, *frame), np.uint16)
    fluo = np.zeros((t_end, *frame), np.float32)
    new_id = _Ids()
    cells = _initial_cells(rng, spec, new_id)
    cap = max(2 * spec.cells[1], 4)
    enter_at = (
        int(rng.integers(1, max(t_end // 2, 1) + 1)) if spec.enter_leave and t_end >= 4 else -1
    )
    parents: dict[int, int] = {}
    for t in range(t_end):
        shapes = []
        for c in cells:
            start = None if c.divide_at is None else c.divide_at - ELONGATE
            progress = (t - start + 1) / (ELONGATE + 1) if start is not None and t >= start else 0.0
            shapes.append(c.shape(progress))
        labels[t], fluo[t], visible = rasterize(shapes, frame, texture)
        kept = []
        for c in cells:  # a cell that has left never comes back
            if c.id in visible:
                c.seen = True
                kept.append(c)
            elif not c.seen and t - c.born < UNSEEN_FRAMES:
                kept.append(c)
        cells = kept
        if t == t_end - 1:
            break
        nxt = []
        for c in cells:
            if c.divide_at is not None and c.divide_at - ELONGATE == t + 1 and len(cells) >= cap:
                c.divide_at = None  # crowded: no more divisions
            if c.divide_at == t + 1 and c.id in visible:
                daughters = _divide(rng, spec, c, new_id, t + 1)
                parents.update({d.id: c.id for d in daughters})
                nxt += daughters
            elif c.divide_at == t + 1:
                c.divide_at = None
                nxt.append(c)
            else:
                nxt.append(c)
        cells = nxt
        _move(rng, spec, cells)
        entering = t + 1 == enter_at or rng.random() < 0.03 * sum(frame) / 512
        if spec.enter_leave and len(cells) < cap and entering:
            cells.append(_spawn(rng, spec, new_id, t + 1))
    present = set(np.flatnonzero(np.bincount(labels.ravel())).tolist())
    parents = {d: m for d, m in parents.items() if d in present and m in present}
    return labels, fluo, parents
