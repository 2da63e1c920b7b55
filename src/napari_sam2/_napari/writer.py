"""npe2 writer: a Labels layer as a (multi-page) TIFF via tifffile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write one Labels layer to ``path`` (.tif/.tiff); returns the written path.

    The smallest unsigned dtype that holds the largest label id is used, so
    ImageJ/Fiji open the file as an ordinary 8- or 16-bit stack when it can.
    The axes are stored as ImageJ metadata for 2 to 5 dimensions.
    """
    import tifffile

    arr = np.asarray(data)
    if arr.dtype.kind not in "ui":
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError("labels must not be negative")
    top = int(arr.max()) if arr.size else 0
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32
    arr = arr.astype(dtype, copy=False)
    path = str(Path(path).with_suffix(Path(path).suffix or ".tif"))
    # ImageJ hyperstacks cannot hold 32-bit integers or more than 5 axes.
    axes = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TZCYX"}.get(arr.ndim)
    if dtype != np.uint32 and axes is not None:
        tifffile.imwrite(path, arr, imagej=True, metadata={"axes": axes}, compression=None)
    else:
        tifffile.imwrite(path, arr, compression="zlib")
    return [path]
