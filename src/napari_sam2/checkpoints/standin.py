"""Deterministic stand-in weights for tests, benchmarks and demos.

Shipped (not test-only) because the demo and the benchmarks use them: no
official checkpoint can be downloaded on build machines, so they run on
weights anyone can regenerate bit for bit from a preset's key/shape layout.
The rule is the one the golden reference data were made with: for each key,
a normal sample seeded by the CRC-32 of the key name, scaled by the kind of
tensor (see :func:`standin_tensor`).
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import torch

_UNSCALED_SUFFIXES = (
    "_token.weight",
    "_tokens.weight",
    "not_a_point_embed.weight",
    "no_mask_embed.weight",
    "positional_encoding_gaussian_matrix",
)


def standin_tensor(key: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The stand-in value of one checkpoint tensor."""
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    x = torch.randn(tuple(shape), generator=gen, dtype=torch.float32)
    leaf = key.rsplit(".", 1)[-1]
    if "point_embeddings." in key or key.endswith(_UNSCALED_SUFFIXES):
        return x
    if leaf == "bias":
        return 0.02 * x
    if leaf == "weight" and len(shape) == 1:  # norm layers
        return 1.0 + 0.1 * x
    if leaf == "weight":  # linear and conv: keep activations of unit scale
        return x / math.sqrt(math.prod(shape[1:]))
    return 0.1 * x  # position/memory embeddings, layer-scale gammas


def standin_state_dict(layout: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Stand-in weights for a ``{key: shape}`` layout, in its order."""
    return {key: standin_tensor(key, shape) for key, shape in layout.items()}


def write_standin_checkpoint(preset: str, path: str | Path) -> Path:
    """Write ``{"model": state_dict}`` with stand-in weights for ``preset``."""
    from napari_sam2.model import build_model

    model = build_model(preset)
    layout = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": standin_state_dict(layout)}, path)
    return path
