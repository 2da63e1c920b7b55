"""Batch segmentation of many stacks on dask.distributed (``napari-sam2 batch``).

``run(stacks, out, ...)`` segments every stack with its prompts (or seed
labels) on a local or existing dask cluster, the model loaded once per
worker, and returns the :class:`BatchReport`; see ``docs/batch.md``.

Names load on first use: the command line imports the argument helpers of
``napari_sam2.batch.options`` for every call, without dask or torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# name -> defining module
_EXPORTS = {
    "run": "napari_sam2.batch.driver",
    "ClusterSettings": "napari_sam2.batch.driver",
    "ModelSettings": "napari_sam2.batch.options",
    "StackSettings": "napari_sam2.batch.options",
    "BatchReport": "napari_sam2.batch.report",
    "StackEntry": "napari_sam2.batch.report",
    "StackJob": "napari_sam2.batch.jobs",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from napari_sam2.batch.driver import ClusterSettings, run
    from napari_sam2.batch.jobs import StackJob
    from napari_sam2.batch.options import ModelSettings, StackSettings
    from napari_sam2.batch.report import BatchReport, StackEntry


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
