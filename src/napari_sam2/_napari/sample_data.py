"""Synthetic fluorescence data for the sample-data menu, demos and tests.

Made by `napari_sam2.engine.synthetic` (which also gives the ground truth):
textured cells with a brighter nucleus under uneven illumination, blur and
camera noise, as uint16. The time-lapse has cells that drift, touch, divide
and enter or leave the field; the z-stack has ellipsoidal cells whose
cross-section grows then shrinks and blurs away from their centre plane.
"""

from __future__ import annotations

import numpy as np

from napari_sam2.engine.synthetic import StackSpec, SyntheticStack, make_stack

LayerData = tuple[np.ndarray, dict, str]


def timelapse_spec(n_frames: int = 20, size: int = 256, n_cells: int = 5) -> StackSpec:
    """The sample time-lapse's recipe: cells that drift, divide, enter and leave."""
    return StackSpec(
        frames=n_frames,
        size=(size, size),
        cells=(n_cells, n_cells),
        radius=(size / 16, size / 10),
        noise=0.08,
    )


def zstack_spec(n_slices: int = 20, size: int = 256, n_cells: int = 6) -> StackSpec:
    """The sample z-stack's recipe: ellipsoids spanning about a third of the stack each."""
    radius = (size / 18, size / 10)
    return StackSpec(
        kind="zstack",
        frames=n_slices,
        size=(size, size),
        cells=(n_cells, n_cells),
        radius=radius,
        divisions=False,
        enter_leave=False,
        noise=0.08,
        z_step=0.8 * float(np.mean(radius)) / max(0.3 * n_slices, 1.0),
    )


def timelapse_stack(n_frames=20, size=256, n_cells=5, seed=0) -> SyntheticStack:
    """The sample time-lapse with its ground truth (labels, lineage)."""
    return make_stack(timelapse_spec(n_frames, size, n_cells), seed)


def zstack_stack(n_slices=20, size=256, n_cells=6, seed=1) -> SyntheticStack:
    """The sample z-stack with its ground truth."""
    return make_stack(zstack_spec(n_slices, size, n_cells), seed)


def make_timelapse(
    n_frames: int = 20, size: int = 256, n_cells: int = 5, seed: int = 0
) -> np.ndarray:
    """A (T, Y, X) uint16 time-lapse of drifting cells, some of which divide."""
    return timelapse_stack(n_frames, size, n_cells, seed).image


def make_zstack(n_slices: int = 20, size: int = 256, n_cells: int = 6, seed: int = 1) -> np.ndarray:
    """A (Z, Y, X) uint16 stack of ellipsoidal cells, blurred away from their centre plane."""
    return zstack_stack(n_slices, size, n_cells, seed).image


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
