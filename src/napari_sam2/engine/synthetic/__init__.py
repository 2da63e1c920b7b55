"""Synthetic fluorescence-microscopy stacks with ground truth.

`make_stack(spec, seed)` returns a `SyntheticStack`: a uint8/uint16 image, instance
labels that keep a cell's id across frames (daughters of a division get new ids,
recorded in `parents`), and the spec and seed that made it. Pure numpy/scipy.

- "timelapse" (2D+t): textured cells with a brighter nucleus random-walk with
  drift, rotate, deform, touch (overlaps split between neighbours), divide (the
  mother elongates and pinches, then two daughters appear) and enter or leave the
  field.
- "zstack" (3D): ellipsoidal cells sliced through z; a cell's cross-section grows
  then shrinks, it is absent from slices outside it, and its out-of-focus blur
  grows away from its centre plane.
- Under uneven illumination, a PSF blur, Poisson shot noise and read noise, with a
  random camera bit depth, offset and gain. Hard cases via the spec: `distractors`
  (bright unlabelled debris), `occlusion` (passing dark/bright blobs, blurred dim
  frames), dense packing (`PRESETS["dense"]`).

A stack is a deterministic function of (spec, seed). **Seeds separate the data
sets: training draws seeds >= 1000 (`TRAIN_SEED_START`), held-out tests and
benchmarks use seeds < 1000.** The same seed with a different noise, blur,
background or debris setting gives the same cells (independent random streams).

`random_spec(rng)` draws varied specs for training; `click_point` and `box_of`
make prompts from a label image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_sam2.engine.synthetic import optics, timelapse, zstack
from napari_sam2.engine.synthetic.prompts import box_of, click_point
from napari_sam2.engine.synthetic.shapes import texture_bank
from napari_sam2.engine.synthetic.spec import PRESETS, StackSpec, SyntheticStack, random_spec

__all__ = [
    "PRESETS",
    "TRAIN_SEED_START",
    "StackSpec",
    "SyntheticStack",
    "box_of",
    "click_point",
    "make_stack",
    "random_spec",
]

TRAIN_SEED_START = 1000  # training seeds are >= this; held-out seeds are below it


DEFAULT_SPEC = StackSpec()


def make_stack(spec: StackSpec = DEFAULT_SPEC, seed: int = 0) -> SyntheticStack:
    """Generate one stack and its ground truth; the same (spec, seed) gives the same stack."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5)]
    cells_rng, debris_rng, light_rng, occ_rng, cam_rng = streams
    texture = texture_bank()
    sim = zstack.simulate if spec.kind == "zstack" else timelapse.simulate
    labels, fluo, parents = sim(spec, cells_rng, texture)
    debris = optics.add_debris(debris_rng, spec, labels, fluo)
    fluo += optics.autofluorescence(light_rng, spec)
    fluo *= optics.illumination(light_rng, spec)
    events = optics.plan_occlusions(occ_rng, spec, labels)
    optics.apply_blobs(events, fluo)
    if spec.blur > 0:
        fluo = ndi.gaussian_filter(fluo, (0, spec.blur, spec.blur))  # the PSF
    optics.apply_bad_frames(events, fluo)
    occluded = np.zeros(spec.frames, bool)
    for e in events:
        occluded[list(e["frames"])] = True
    image = optics.camera(cam_rng, spec, fluo, labels)
    return SyntheticStack(image, labels, parents, spec, int(seed), debris, occluded)
