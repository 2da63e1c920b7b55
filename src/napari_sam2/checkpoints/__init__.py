"""SAM 2 checkpoints: one registry, the cache and verified downloads, safe reading,
strict loading, and the deterministic stand-in weights.

An engine-level package: it builds on ``napari_sam2.model`` (which never
imports it) and knows nothing of napari, Qt or sessions. Every checkpoint
problem is a :class:`CheckpointError` (see ``errors``) with a one-line
message. Names load lazily so that importing the errors stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from napari_sam2.checkpoints.errors import (
    CheckpointChecksumError,
    CheckpointCorruptError,
    CheckpointDownloadError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    CheckpointOfflineError,
)

_EXPORTS = {
    "REGISTRY": "registry",
    "CheckpointInfo": "registry",
    "checkpoint_info": "registry",
    "list_checkpoints": "registry",
    "packaged_path": "registry",
    "ENV_BASE_URL": "download",
    "ENV_CACHE_DIR": "download",
    "ProgressCallback": "download",
    "cache_dir": "download",
    "cached_path": "download",
    "checkpoint_url": "download",
    "download_checkpoint": "download",
    "resolve_checkpoint": "download",
    "set_cache_dir": "download",
    "check_file_format": "reading",
    "read_state_dict": "reading",
    "load_model": "loading",
    "load_weights": "loading",
    "set_precision": "loading",
    "PRECISIONS": "loading",
    "standin_state_dict": "standin",
    "write_standin_checkpoint": "standin",
}

__all__ = [
    "ENV_BASE_URL",
    "ENV_CACHE_DIR",
    "PRECISIONS",
    "REGISTRY",
    "CheckpointChecksumError",
    "CheckpointCorruptError",
    "CheckpointDownloadError",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "CheckpointOfflineError",
    "ProgressCallback",
    "cache_dir",
    "cached_path",
    "check_file_format",
    "checkpoint_info",
    "checkpoint_url",
    "download_checkpoint",
    "list_checkpoints",
    "load_model",
    "load_weights",
    "packaged_path",
    "read_state_dict",
    "resolve_checkpoint",
    "set_cache_dir",
    "set_precision",
    "standin_state_dict",
    "write_standin_checkpoint",
]

if TYPE_CHECKING:  # pragma: no cover
    from napari_sam2.checkpoints.download import (
        ENV_BASE_URL,
        ENV_CACHE_DIR,
        ProgressCallback,
        cache_dir,
        cached_path,
        checkpoint_url,
        download_checkpoint,
        resolve_checkpoint,
        set_cache_dir,
    )
    from napari_sam2.checkpoints.loading import PRECISIONS, load_model, load_weights, set_precision
    from napari_sam2.checkpoints.reading import check_file_format, read_state_dict
    from napari_sam2.checkpoints.registry import (
        REGISTRY,
        CheckpointInfo,
        checkpoint_info,
        list_checkpoints,
        packaged_path,
    )
    from napari_sam2.checkpoints.standin import standin_state_dict, write_standin_checkpoint


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
