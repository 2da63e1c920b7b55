"""``load_model`` and ``load_weights``: strict loading, fine-tuned layouts, mismatches."""

from __future__ import annotations

import pytest
import torch

from napari_sam2 import load_model
from napari_sam2.checkpoints import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    load_weights,
)
from napari_sam2.checkpoints.standin import write_standin_checkpoint
from napari_sam2.model import build_model, list_presets

PRESETS = list_presets()


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_standin_checkpoint_loads_strictly(preset, tmp_path):
    path = write_standin_checkpoint(preset, tmp_path / f"{preset}.pt")
    model = load_model(preset, checkpoint=path)
    key = next(iter(model.state_dict()))
    assert torch.equal(model.state_dict()[key], torch.load(path, weights_only=True)["model"][key])
    path.unlink()


def test_wrong_model_size_is_named(tmp_path):
    path = write_standin_checkpoint("sam2.1_hiera_small", tmp_path / "small.pt")
    with pytest.raises(
        CheckpointMismatchError, match=r"small\.pt.*sam2\.1_hiera_tiny.*missing.*pick the preset"
    ):
        load_model("sam2.1_hiera_tiny", checkpoint=path)


def test_release_mismatch_names_first_keys(tmp_path):
    path = write_standin_checkpoint("sam2.1_hiera_tiny", tmp_path / "t21.pt")
    with pytest.raises(CheckpointMismatchError, match="unexpected tensor.*no_obj_embed_spatial"):
        load_model("sam2_hiera_tiny", checkpoint=path)


def test_misshapen_tensor(tmp_path):
    model = build_model("sam2.1_hiera_tiny")
    state = model.state_dict()
    state["no_mem_embed"] = torch.zeros(1, 1, 128)
    torch.save({"model": state}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointMismatchError, match=r"no_mem_embed: checkpoint \(1, 1, 128\)"):
        load_weights(build_model("sam2.1_hiera_tiny"), tmp_path / "bad.pt")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointCorruptError, match="text file, not a PyTorch checkpoint"):
        load_model("sam2.1_hiera_tiny", checkpoint=tmp_path / "notes.pt")
    torch.save({"weights": [1, 2]}, tmp_path / "other.pt")
    with pytest.raises(CheckpointCorruptError, match="not a SAM 2 checkpoint: it holds no tensors"):
        load_model("sam2.1_hiera_tiny", checkpoint=tmp_path / "other.pt")


def test_missing_file_and_unknown_preset(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="nope.pt"):
        load_model("sam2.1_hiera_tiny", checkpoint=tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="unknown model preset 'sam3'"):
        load_model("sam3", checkpoint=tmp_path / "nope.pt")


def test_bad_device_and_precision_fail_before_reading(tmp_path):
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        load_model("sam2.1_hiera_tiny", checkpoint=tmp_path / "nope.pt", device="gpu")
    with pytest.raises(ValueError, match="unknown precision"):
        load_model("sam2.1_hiera_tiny", checkpoint=tmp_path / "nope.pt", precision="half")


@pytest.mark.parametrize("wrap", ["state_dict", "model_state", "bare", "ddp"])
def test_fine_tuned_layouts_load_by_path(tmp_path, wrap):
    """Fine-tuning scripts save the same tensors under other keys or a DDP prefix."""
    model = build_model("sam2.1_hiera_tiny")
    state = {k: torch.randn_like(v) for k, v in model.state_dict().items()}
    if wrap == "ddp":
        obj = {"model": {f"module.{k}": v for k, v in state.items()}}
    else:
        obj = state if wrap == "bare" else {wrap: state, "epoch": 3}
    torch.save(obj, tmp_path / "finetuned.pt")
    loaded = load_model("sam2.1_hiera_tiny", checkpoint=tmp_path / "finetuned.pt")
    key = "image_encoder.trunk.pos_embed"
    assert torch.equal(loaded.state_dict()[key], state[key])


def test_errors_are_one_family():
    from napari_sam2.checkpoints import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), CheckpointError)
