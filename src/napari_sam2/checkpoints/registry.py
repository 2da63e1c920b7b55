"""One registry of the official checkpoints: preset -> config, file, URL, hash, size.

Like timm's pretrained configs: a frozen dataclass per checkpoint, built
from the model presets so every preset has exactly one entry. Hashes are
Meta's published SHA-256 of the SAM 2.1 files; SAM 2 files (July 2024) have
none and are checked by structure instead. Sizes are not published, so
``size_bytes`` is None; where set, downloads are checked against it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_sam2.model.config import SAM2Config, get_config, list_presets

SAM21_BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
SAM2_BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/072824/"

_SHA256 = {
    "sam2.1_hiera_tiny": "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
    "sam2.1_hiera_small": "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
    "sam2.1_hiera_base_plus": "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
    "sam2.1_hiera_large": "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
}


@dataclass(frozen=True)
class CheckpointInfo:
    """One official checkpoint file. ``sha256``/``size_bytes`` are None where unpublished."""

    preset: str
    filename: str
    url: str
    sha256: str | None
    size_bytes: int | None = None
    packaged: bool = False  # shipped inside the package (model_data/), never downloaded

    @property
    def config(self) -> SAM2Config:
        """The model configuration these weights belong to."""
        return get_config(self.preset)


def _build_registry() -> dict[str, CheckpointInfo]:
    out = {}
    for name in list_presets():
        base = SAM21_BASE_URL if name.startswith("sam2.1") else SAM2_BASE_URL
        out[name] = CheckpointInfo(name, f"{name}.pt", f"{base}{name}.pt", _SHA256.get(name))
    # Our small model trained on synthetic cells (docs/training.md): no URL, it ships.
    out["demo"] = CheckpointInfo("demo", "sam2_demo.pt", "", None, packaged=True)
    return out


#: Every preset's checkpoint, by preset name: the official ones and the packaged demo.
REGISTRY: dict[str, CheckpointInfo] = _build_registry()


def checkpoint_info(preset: str) -> CheckpointInfo:
    """The registry entry of ``preset`` (aliases such as ``"tiny"`` work)."""
    return REGISTRY[get_config(preset).name]  # get_config raises ValueError when unknown


def list_checkpoints() -> list[str]:
    """Names of the registered checkpoints (the model presets)."""
    return list(REGISTRY)


def packaged_path(info: CheckpointInfo) -> Path:
    """Where a packaged checkpoint lives in the installed package."""
    return Path(__file__).resolve().parents[1] / "model_data" / info.filename
