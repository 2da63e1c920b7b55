"""The one dtype rule for label images, shared by every writer and the batch runner.

Object ids go in uint16 when the largest fits (Fiji and most tools open
16-bit stacks directly), else uint32. Floats and negative ids are refused:
a label image holds object ids, 0 being the background.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_label_array", "label_dtype"]

UINT16_MAX = 0xFFFF
UINT32_MAX = 0xFFFF_FFFF


def label_dtype(max_id: int) -> np.dtype:
    """uint16 when ``max_id`` fits, else uint32 (``ValueError`` if negative or too large)."""
    max_id = int(max_id)
    if max_id < 0:
        raise ValueError(f"label ids must not be negative, got {max_id}")
    if max_id > UINT32_MAX:
        raise ValueError(f"label id {max_id} does not fit in 32 bits")
    return np.dtype(np.uint16 if max_id <= UINT16_MAX else np.uint32)


def as_label_array(labels) -> np.ndarray:
    """``labels`` as an array of object ids, unconverted: bool becomes uint16;
    floats and negative ids raise a one-line ``ValueError``."""
    arr = np.asarray(labels)
    if arr.dtype == bool:
        return arr.astype(np.uint16)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be an integer (or bool) array, got {arr.dtype}")
    if arr.size and np.issubdtype(arr.dtype, np.signedinteger) and arr.min() < 0:
        raise ValueError("labels must not be negative")
    return arr
