"""Shared fixtures: golden reference data and stand-in weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(os.environ.get("NAPARI_SAM2_GOLDEN", REPO.parent / "shared" / "golden"))
# Small golden files live in the project itself; the large video ones stay shared.
GOLDEN_IN_REPO = REPO / "tests" / "data" / "golden"


def golden(name: str) -> tuple[dict, dict]:
    """The JSON description and arrays of one golden file (skips if absent)."""
    folder = next((d for d in (GOLDEN_IN_REPO, GOLDEN) if (d / f"{name}.json").exists()), None)
    if folder is None:
        pytest.skip(
            f"golden data {name} not found in {GOLDEN_IN_REPO} or {GOLDEN} (set NAPARI_SAM2_GOLDEN)"
        )
    spec = json.loads((folder / f"{name}.json").read_text())
    return spec, dict(np.load(folder / f"{name}.npz"))


def manifest(preset: str) -> dict:
    """The official checkpoint's key/shape manifest (copied into the project)."""
    path = GOLDEN_IN_REPO / "manifests" / f"{preset}.json"
    if not path.exists():
        path = GOLDEN / "manifests" / f"{preset}.json"
    if not path.exists():
        pytest.skip(f"checkpoint manifest {preset}.json not found")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def standin_tiny():
    """SAM 2.1 tiny with the stand-in weights of the golden data."""
    from napari_sam2.checkpoints.standin import standin_state_dict
    from napari_sam2.model import build_model

    torch.manual_seed(0)
    model = build_model("sam2.1_hiera_tiny")
    model.load_state_dict(
        standin_state_dict({k: tuple(v.shape) for k, v in model.state_dict().items()})
    )
    return model


@pytest.fixture(scope="session")
def standin_checkpoint(tmp_path_factory) -> Path:
    """A stand-in ``sam2.1_hiera_tiny.pt`` file in the official layout."""
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    return write_standin_checkpoint(
        "sam2.1_hiera_tiny", tmp_path_factory.mktemp("ckpt") / "sam2.1_hiera_tiny.pt"
    )


@pytest.fixture(scope="session")
def small_model(standin_checkpoint):
    """Stand-in tiny weights at a reduced 256 input: fast enough for workflow tests."""
    from napari_sam2 import load_model

    return load_model("sam2.1_hiera_tiny", checkpoint=standin_checkpoint, image_size=256)
