"""Random cells: their look (size, shape, nucleus, brightness) and how it evolves."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_sam2.engine.synthetic.shapes import TEXTURE_SIZE, Shape
from napari_sam2.engine.synthetic.spec import StackSpec

HARMONICS = 4  # boundary wobble: harmonics 2..5


@dataclass
class Cell:
    """A living cell: slow-changing state from which each frame's `Shape` is drawn."""

    id: int
    y: float
    x: float
    r0: float  # grown radius, px (sqrt of the semi-axes' product)
    ratio: float  # a / b
    angle: float
    amps: np.ndarray
    phases: np.ndarray
    brightness: float
    nuc_brightness: float
    nucleus: tuple  # (fu, fv, fa, fb)
    tex_off: tuple
    scale: float = 1.0  # grows from ~0.72 (newborn daughter) to 1
    vy: float = 0.0
    vx: float = 0.0
    drift: tuple = (0.0, 0.0)
    omega: float = 0.0  # rotation, rad/frame
    divide_at: int | None = None
    born: int = 0
    seen: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def radius(self) -> float:
        return self.r0 * self.scale

    def shape(self, progress: float = 0.0) -> Shape:
        """This frame's outline; `progress` in (0, 1] elongates and pinches a mother."""
        a = self.radius * np.sqrt(self.ratio)
        b = self.radius / np.sqrt(self.ratio)
        nuclei = [self.nucleus]
        waist = 0.0
        if progress > 0:  # stretch along the long axis, pinch, two nuclei move apart
            a, b = a * (1.0 + 0.5 * progress), b * (1.0 - 0.12 * progress)
            waist = 0.5 * progress**1.5
            _, _, fa, fb = self.nucleus
            sep = 0.5 * progress
            shrink = 1.0 - 0.3 * progress
            nuclei = [(-sep, 0.0, fa * shrink, fb), (sep, 0.0, fa * shrink, fb)]
        return Shape(
            id=self.id,
            y=self.y,
            x=self.x,
            a=a,
            b=b,
            angle=self.angle,
            amps=self.amps * (1.0 - progress),
            phases=self.phases,
            brightness=self.brightness,
            nuc_brightness=self.nuc_brightness,
            nuclei=nuclei,
            tex_off=self.tex_off,
            waist=waist,
        )

    def evolve(self, rng: np.random.Generator, spec: StackSpec) -> None:
        """Slow change of outline and orientation, one frame's worth."""
        self.angle += self.omega + rng.normal(0.0, 0.02)
        self.phases = self.phases + rng.normal(0.0, 0.12, HARMONICS)
        target = (
            spec.deformation * rng.uniform(0.0, 1.0, HARMONICS) / np.arange(2, 2 + HARMONICS) ** 0.5
        )
        self.amps = 0.9 * self.amps + 0.1 * target
        top = 1.2 * max(spec.elongation[1], 1.0)
        self.ratio = min(max(self.ratio * float(np.exp(rng.normal(0.0, 0.02))), 1.0), top)  # a >= b


def random_cell(
    rng: np.random.Generator, spec: StackSpec, cell_id: int, y: float, x: float, r0=None
) -> Cell:
    """A new cell with random size, shape, nucleus, texture and brightness."""
    r0 = rng.uniform(*spec.radius) if r0 is None else r0
    deformation = spec.deformation
    amps = deformation * rng.uniform(0.0, 1.0, HARMONICS) / np.arange(2, 2 + HARMONICS) ** 0.5
    brightness = float(np.exp(rng.normal(0.0, 0.3)))
    return Cell(
        id=cell_id,
        y=y,
        x=x,
        r0=r0,
        ratio=float(rng.uniform(*spec.elongation)),
        angle=float(rng.uniform(0, 2 * np.pi)),
        amps=amps,
        phases=rng.uniform(0, 2 * np.pi, HARMONICS),
        brightness=brightness,
        nuc_brightness=brightness * float(rng.uniform(0.6, 1.6)),
        nucleus=(
            float(rng.normal(0.0, 0.12)),
            float(rng.normal(0.0, 0.12)),
            float(rng.uniform(0.35, 0.55)),
            float(rng.uniform(0.45, 0.65)),
        ),
        tex_off=tuple(rng.uniform(0, TEXTURE_SIZE, 2)),
        omega=float(rng.normal(0.0, 0.03)),
    )


def place(rng, centres, radii, r, bounds, gap: float, tries: int = 60):
    """A random centre within `bounds` [(lo, hi) per axis], at least gap * (r + r_i) from
    every centre already placed; None when no spot was found."""
    for _ in range(tries):
        p = np.array([rng.uniform(lo, hi) for lo, hi in bounds])
        if not centres:
            return p
        dist = np.linalg.norm(np.asarray(centres) - p, axis=1)
        if (dist >= gap * (r + np.asarray(radii))).all():
            return p
    return None
