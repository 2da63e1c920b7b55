"""Every preset has exactly the official checkpoint layout; the pure strict check."""

from __future__ import annotations

import pytest
import torch

from napari_sam2.model import build_model, list_presets
from napari_sam2.model.checkpoint import state_dict_mismatch
from tests.conftest import manifest

PRESETS = list_presets()


def test_eight_official_presets():
    assert sorted(PRESETS) == sorted(
        f"{rel}_hiera_{size}"
        for rel in ("sam2", "sam2.1")
        for size in ("tiny", "small", "base_plus", "large")
    )


@pytest.mark.parametrize("preset", PRESETS)
def test_state_dict_matches_manifest(preset):
    man = manifest(preset)
    model = build_model(preset)
    state = model.state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == [
        (k, list(s)) for k, s in man["tensors"]
    ]
    assert sum(p.numel() for p in model.parameters()) == man["num_params"]


def test_strict_check_names_missing_extra_and_misshapen():
    model = build_model("sam2.1_hiera_tiny")
    state = dict(model.state_dict())
    assert state_dict_mismatch(model, state) is None
    del state["no_obj_ptr"]
    state["extra.weight"] = torch.zeros(1)
    state["no_mem_embed"] = torch.zeros(1, 1, 128)
    problem = state_dict_mismatch(model, state)
    assert "1 missing tensor(s): no_obj_ptr" in problem
    assert "1 unexpected tensor(s): extra.weight" in problem
    assert "no_mem_embed: checkpoint (1, 1, 128) vs model (1, 1, 256)" in problem
    assert "\n" not in problem
