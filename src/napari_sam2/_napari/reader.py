"""npe2 reader: label stacks written by napari-sam2 open as Labels layers.

Every label TIFF the plugin's writer and the command line write carries a
mark (the TIFF Software tag ``napari-sam2 labels``, see
:data:`napari_sam2.export.LABELS_MARK`); this reader opens such a file as a
Labels layer. Any other TIFF opens as an Image layer, as napari's own
reader would. The manifest offers it only for names holding ``labels`` or
``mask`` (``labels.tif``, CTC ``mask000.tif``): a reader for every TIFF would
make napari ask which reader to use for each TIFF a user opens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from napari_sam2.export import is_label_stack

TIFF_SUFFIXES = (".tif", ".tiff")


def get_reader(path: str | list[str]) -> Callable | None:
    """The reader function for ``path`` (one TIFF file, or a list of them), else None."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(str(p).lower().endswith(TIFF_SUFFIXES) for p in paths):
        return None
    if not all(Path(p).is_file() for p in paths):
        return None
    return read_tiffs


def read_tiffs(path: str | list[str]) -> list[tuple]:
    """Layer data for each file: Labels where marked, else Image."""
    import tifffile

    paths = [path] if isinstance(path, (str, Path)) else list(path)
    layers = []
    for p in paths:
        name = Path(p).stem
        if is_label_stack(p):
            layers.append((tifffile.imread(p), {"name": name}, "labels"))
        else:
            layers.append((tifffile.imread(p), {"name": name}, "image"))
    return layers
