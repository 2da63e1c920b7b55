"""npe2 writer: a Labels layer as a (multi-page) TIFF via tifffile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari_sam2.export import write_label_stack


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write one Labels layer to ``path`` (.tif/.tiff); returns the written path.

    The dtype rule and checks are :func:`napari_sam2.export.label_dtype`'s
    (uint16 when the ids fit, else uint32); the axes are stored as ImageJ
    metadata for 2 to 5 dimensions, so Fiji opens the file as a hyperstack.
    """
    path = str(Path(path).with_suffix(Path(path).suffix or ".tif"))
    return [str(write_label_stack(path, data, imagej=True))]
