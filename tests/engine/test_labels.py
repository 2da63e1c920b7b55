"""The one dtype rule for label images."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.engine.labels import as_label_array, label_dtype


def test_uint16_when_the_largest_id_fits_else_uint32():
    assert label_dtype(0) == np.uint16 and label_dtype(65535) == np.uint16
    assert label_dtype(65536) == np.uint32 and label_dtype(2**32 - 1) == np.uint32
    with pytest.raises(ValueError, match="negative"):
        label_dtype(-1)
    with pytest.raises(ValueError, match="32 bits"):
        label_dtype(2**32)


def test_label_arrays_are_integers_without_negatives():
    assert as_label_array(np.ones((2, 2), bool)).dtype == np.uint16
    a = np.arange(4, dtype=np.int64).reshape(2, 2)
    assert as_label_array(a) is a or np.shares_memory(as_label_array(a), a)  # never copied
    for bad, match in [(np.zeros((2, 2), np.float32), "integer"),
                       (-np.ones((2, 2), np.int32), "negative")]:
        with pytest.raises(ValueError, match=match) as err:
            as_label_array(bad)
        assert "\n" not in str(err.value)
