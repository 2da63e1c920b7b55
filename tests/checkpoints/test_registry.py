"""One registry entry per preset, with Meta's URL and published hash."""

from __future__ import annotations

import pytest

from napari_sam2 import checkpoints
from napari_sam2.model.config import get_config, list_presets

# Published SHA-256 of the SAM 2.1 files (../shared/REFERENCE.md).
PUBLISHED = {
    "sam2.1_hiera_tiny": "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
    "sam2.1_hiera_small": "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
    "sam2.1_hiera_base_plus": "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
    "sam2.1_hiera_large": "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
}


def test_registry_covers_presets():
    # The official presets, plus the packaged demo model.
    names = {*list_presets(), "demo"}
    assert set(checkpoints.REGISTRY) == names == set(checkpoints.list_checkpoints())
    tiny = checkpoints.REGISTRY["sam2.1_hiera_tiny"]
    assert tiny.url == (
        "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt"
    )
    assert checkpoints.REGISTRY["sam2_hiera_large"].url.endswith("/072824/sam2_hiera_large.pt")
    assert checkpoints.REGISTRY["sam2_hiera_large"].sha256 is None
    assert checkpoints.checkpoint_info("tiny") == tiny


@pytest.mark.parametrize("preset", list_presets())
def test_entry_matches_its_preset(preset):
    info = checkpoints.REGISTRY[preset]
    assert info.preset == preset and info.filename == f"{preset}.pt"
    assert info.url.endswith(f"/{info.filename}")
    assert info.config == get_config(preset)
    assert info.sha256 == PUBLISHED.get(preset)
    assert info.size_bytes is None  # no sizes are published


def test_unknown_preset_is_a_value_error():
    with pytest.raises(ValueError, match="unknown model preset"):
        checkpoints.checkpoint_info("sam3_giant")


def test_the_demo_model_is_packaged_not_downloaded(monkeypatch, tmp_path):
    from napari_sam2.checkpoints import (
        REGISTRY,
        CheckpointNotFoundError,
        registry,
        resolve_checkpoint,
    )

    info = REGISTRY["demo"]
    assert info.packaged and info.config.name == "demo" and info.url == ""
    # Without the file in the installation: one line saying how to get it.
    def absent(info):
        return tmp_path / "absent.pt"

    monkeypatch.setattr(registry, "packaged_path", absent)
    monkeypatch.setattr("napari_sam2.checkpoints.download.packaged_path", absent)
    with pytest.raises(CheckpointNotFoundError, match="napari-sam2 train") as err:
        resolve_checkpoint("demo")
    assert "\n" not in str(err.value)
