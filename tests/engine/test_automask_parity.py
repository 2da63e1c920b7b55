"""AutoMaskGenerator finds the reference generator's masks on stand-in tiny weights."""

from __future__ import annotations

import time

import numpy as np
import pytest

from napari_sam2 import AutoMaskGenerator
from tests.conftest import golden


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


@pytest.mark.slow
def test_golden_masks_as_a_set(standin_tiny):
    spec, data = golden("amg_tiny")
    generator = AutoMaskGenerator(standin_tiny, **spec["generator_settings"])
    start = time.perf_counter()
    records = generator.generate(data[spec["frames_key"]][0])
    seconds = time.perf_counter() - start
    reference = spec["seconds_reference_cpu"]
    print(f"generate: {seconds:.1f} s (reference on 2 CPU cores: {reference} s)")
    refs = [
        np.unpackbits(data[step["key"]], axis=-1)[:, :1024].astype(bool) for step in spec["steps"]
    ]
    assert len(records) == len(refs), "extra or missing masks"
    ious = np.array([[_iou(r.mask, ref) for ref in refs] for r in records])
    # Every reference mask has a match >= 0.99, one to one (the masks are distinct).
    assert (ious.max(axis=0) >= 0.99).all(), ious.max(axis=0)
    assert (ious.max(axis=1) >= 0.99).all(), ious.max(axis=1)
    matches = ious.argmax(axis=1)
    assert sorted(matches.tolist()) == list(range(len(refs)))
    for rec, ref_index in zip(records, matches):
        step = spec["steps"][ref_index]
        assert rec.mask.shape == (1024, 1024) and rec.mask.dtype == bool
        assert abs(rec.area - step["area"]) <= 0.01 * step["area"]
        assert np.allclose(rec.box, step["bbox_xywh"], atol=2)
        assert abs(rec.predicted_iou - step["predicted_iou"]) <= 1e-3
        assert abs(rec.stability_score - step["stability_score"]) <= 1e-3
        assert list(rec.point) == step["point_coords"][0]
    # Sorted by predicted IoU, like the reference's steps.
    assert [r.predicted_iou for r in records] == sorted(
        (r.predicted_iou for r in records), reverse=True)
