"""What to generate (`StackSpec`, presets) and what comes out (`SyntheticStack`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class StackSpec:
    """A recipe for a synthetic fluorescence stack; `make_stack(spec, seed)` cooks it.

    Sizes are in pixels, times in frames. Intensities are relative to a typical
    cell's cytoplasm (1.0) before the camera maps them to `dtype`.
    """

    kind: str = "timelapse"  # "timelapse" (T, H, W) or "zstack" (Z, H, W)
    frames: int = 20  # T, or Z slices
    size: tuple[int, int] = (256, 256)  # (H, W)
    cells: tuple[int, int] = (3, 10)  # min, max number of cells at the start (inclusive)
    radius: tuple[float, float] = (10.0, 30.0)  # min, max radius of a grown cell, sqrt(a * b)
    dtype: str = "uint16"  # "uint8" or "uint16"
    divisions: bool = True  # time-lapse: mothers elongate, pinch and split into two new ids
    enter_leave: bool = True  # time-lapse: cells drift in through and out of the borders
    touching: bool = True  # neighbours may touch (overlap is split between them)
    packing: float = 0.8  # touching: closest centre distance, in units of the two radii summed
    noise: float = 0.1  # shot noise: coefficient of variation at cytoplasm brightness (0: none)
    blur: float = 1.0  # PSF Gaussian sigma, px
    background: float = 0.3  # uneven illumination: 0 flat .. 1 strong vignetting/gradient
    autofluorescence: float = 0.1  # background level under the illumination, relative to cells
    speed: float = 1.5  # time-lapse: random-walk step, px/frame (plus each cell's drift)
    elongation: tuple[float, float] = (1.0, 1.6)  # min, max ratio of the semi-axes
    deformation: float = 0.08  # amplitude of the low-frequency boundary wobble
    cycle: int = 30  # time-lapse: frames between divisions of a cell (mean)
    z_step: float = 3.0  # zstack: xy pixels per z slice (axial sampling)
    defocus: float = 0.5  # zstack: extra blur sigma per slice away from a cell's centre plane
    distractors: int = 0  # bright unlabelled debris particles
    occlusion: int = 0  # events: a passing dark/bright blob, or a few blurred/dim frames

    def __post_init__(self):
        if self.kind not in ("timelapse", "zstack"):
            raise ValueError(f"kind must be 'timelapse' or 'zstack', not {self.kind!r}")
        if self.dtype not in ("uint8", "uint16"):
            raise ValueError(f"dtype must be 'uint8' or 'uint16', not {self.dtype!r}")
        if self.frames < 1 or min(self.size) < 8:
            raise ValueError("need at least 1 frame and 8x8 pixels")
        if not 0 <= self.cells[0] <= self.cells[1]:
            raise ValueError(f"cells must be (min, max) with 0 <= min <= max, not {self.cells}")
        if not 1.0 <= self.elongation[0] <= self.elongation[1]:
            raise ValueError(
                f"elongation must be (min, max) with 1 <= min <= max, not {self.elongation}"
            )
        if not 0 < self.radius[0] <= self.radius[1]:
            raise ValueError(f"radius must be (min, max) with 0 < min <= max, not {self.radius}")

    @classmethod
    def preset(cls, name: str, **overrides) -> StackSpec:
        """A named spec from `PRESETS`, with some fields changed."""
        try:
            base = PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None
        return replace(base, **overrides)


PRESETS: dict[str, StackSpec] = {
    "timelapse": StackSpec(),
    "zstack": StackSpec(kind="zstack", divisions=False, enter_leave=False),
    # Hard cases for the quality benchmark.
    "dense": StackSpec(cells=(40, 50), radius=(12.0, 20.0), packing=0.65, speed=1.0),
    "sparse_small": StackSpec(cells=(2, 5), radius=(6.0, 10.0)),
    "debris": StackSpec(distractors=12),
    "occluded": StackSpec(occlusion=2),
    "noisy": StackSpec(noise=0.35, blur=1.8, background=0.6),
    "hard": StackSpec(
        cells=(8, 16), distractors=8, occlusion=1, noise=0.25, blur=1.5, background=0.5
    ),
    "dense_zstack": StackSpec(
        kind="zstack", cells=(12, 20), divisions=False, enter_leave=False, radius=(12.0, 24.0)
    ),
}


def random_spec(rng: np.random.Generator, **fixed) -> StackSpec:
    """A varied spec for training (domain randomisation); `fixed` fields are kept as given.

    Draws the kind (3 in 4 time-lapses), cell count and size, shape, packing,
    motion, optics (noise, blur, illumination), bit depth and hard cases.
    """
    size = fixed.get("size", StackSpec.size)
    scale = min(size) / 256
    r_lo = rng.uniform(6.0, 20.0) * scale
    kind = "timelapse" if rng.random() < 0.75 else "zstack"
    drawn = {
        "kind": kind,
        "cells": (int(rng.integers(1, 8)), int(rng.integers(8, 30))),
        "radius": (r_lo, r_lo * rng.uniform(1.2, 2.5)),
        "dtype": "uint8" if rng.random() < 0.3 else "uint16",
        "divisions": kind == "timelapse" and rng.random() < 0.7,
        "enter_leave": kind == "timelapse" and rng.random() < 0.7,
        "touching": rng.random() < 0.8,
        "packing": rng.uniform(0.65, 0.9),
        "noise": rng.uniform(0.02, 0.35),
        "blur": rng.uniform(0.5, 2.0),
        "background": rng.uniform(0.0, 0.7),
        "autofluorescence": rng.uniform(0.02, 0.3),
        "speed": rng.uniform(0.3, 3.0) * scale,
        "elongation": (1.0, rng.uniform(1.1, 2.2)),
        "deformation": rng.uniform(0.02, 0.15),
        "cycle": int(rng.integers(15, 60)),
        "z_step": rng.uniform(1.5, 5.0),
        "defocus": rng.uniform(0.2, 1.0),
        "distractors": int(rng.poisson(2.0)) if rng.random() < 0.4 else 0,
        "occlusion": int(rng.random() < 0.2),
    }
    drawn.update(fixed)
    return StackSpec(**drawn)


@dataclass(frozen=True, eq=False)
class SyntheticStack:
    """A generated stack and its ground truth.

    `labels[t]` holds instance ids (0 = background). A cell keeps its id in every
    frame it is present, and its presence is one contiguous run of frames (a cell
    that left the field never comes back; a mother is gone from the frame its
    daughters appear in). Ids are never reused. Labels are the true cell extents:
    they do not shrink under occluders, debris or bad frames.
    """

    image: np.ndarray  # (T, H, W) uint8 or uint16
    labels: np.ndarray  # (T, H, W) uint16 instance ids
    parents: dict[int, int]  # daughter id -> mother id
    spec: StackSpec
    seed: int
    debris: np.ndarray | None = None  # (T, H, W) bool: where unlabelled debris lies, or None
    occluded: np.ndarray | None = None  # (T,) bool: frames touched by an occlusion event

    @property
    def ids(self) -> list[int]:
        """Every cell id present in at least one frame, ascending."""
        ids = np.unique(self.labels)
        return [int(i) for i in ids[ids > 0]]

    def track(self, cell_id: int) -> np.ndarray:
        """(T,) bool: the frames where the cell is present."""
        return (self.labels == cell_id).any(axis=(1, 2))

    def mask(self, cell_id: int) -> np.ndarray:
        """(T, H, W) bool: the cell's mask in every frame."""
        return self.labels == cell_id
