from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2.engine.postprocess import (
    apply_non_overlap,
    connected_components,
    fill_holes_in_logits,
    remove_small_objects_and_holes,
    remove_sprinkles_in_logits,
)


def _logits_from(mask: np.ndarray) -> torch.Tensor:
    """+5 on foreground, -5 on background, shaped (1, 1, h, w)."""
    return torch.from_numpy(np.where(mask, 5.0, -5.0).astype(np.float32))[None, None]


def _ring() -> np.ndarray:
    """A 10x10 square object with a 2x2 hole and a 4x4 hole; one 1-pixel speck."""
    m = np.zeros((16, 16), bool)
    m[2:12, 2:12] = True
    m[3:5, 3:5] = False  # 4-pixel hole
    m[6:10, 6:10] = False  # 16-pixel hole
    m[14, 14] = True  # speck
    return m


def test_connected_components_are_8_connected_with_areas():
    m = np.zeros((1, 1, 5, 5), bool)
    m[0, 0, 0, 0] = m[0, 0, 1, 1] = True  # diagonal neighbours: one component
    m[0, 0, 4, 4] = True
    labels, areas = connected_components(torch.from_numpy(m))
    assert labels.shape == m.shape
    assert labels[0, 0, 0, 0] == labels[0, 0, 1, 1] != labels[0, 0, 4, 4]
    assert areas[0, 0, 0, 0] == 2 and areas[0, 0, 4, 4] == 1 and areas[0, 0, 2, 2] == 0


def test_fill_holes_like_the_reference():
    m = _ring()
    logits = _logits_from(m)
    out = fill_holes_in_logits(logits, max_area=8)
    expected = logits.clone()
    expected[0, 0, 3:5, 3:5] = 0.1  # the small hole only
    assert torch.equal(out, expected)
    # A big max_area also fills the big hole and the outer background (it is a
    # background component too, as in the reference) - all set to exactly 0.1.
    everything = fill_holes_in_logits(logits, max_area=16 * 16)
    assert torch.equal(everything[logits > 0], logits[logits > 0])
    assert (everything[logits <= 0] == 0.1).all()
    assert fill_holes_in_logits(logits, 0) is logits


def test_remove_sprinkles():
    logits = _logits_from(_ring())
    out = remove_sprinkles_in_logits(logits, max_area=3)
    assert out[0, 0, 14, 14] == pytest.approx(-0.1)
    mask = out > 0
    assert mask.sum() == (logits > 0).sum() - 1


def test_fill_holes_per_object_and_dtype():
    a, b = _ring(), np.zeros((16, 16), bool)
    b[0:3, 0:3] = True
    b[1, 1] = False
    logits = torch.cat([_logits_from(a), _logits_from(b)]).half()
    out = fill_holes_in_logits(logits, max_area=4)
    assert out.dtype == torch.float16 and out.shape == (2, 1, 16, 16)
    assert out[1, 0, 1, 1] == pytest.approx(0.1, abs=1e-3)
    assert (out[0, 0, 3:5, 3:5] > 0).all() and (out[0, 0, 6:10, 6:10] < 0).all()


def test_non_overlap_keeps_the_highest_object():
    logits = torch.tensor([[[[3.0, -1.0, 2.0, 1.0]]], [[[1.0, 2.0, 5.0, 1.0]]]])
    out = apply_non_overlap(logits)
    expected = torch.tensor([[[[3.0, -10.0, -10.0, 1.0]]], [[[-10.0, 2.0, 5.0, -10.0]]]])
    assert torch.equal(out, expected)  # a tie (last pixel) goes to the first object
    assert ((out > 0).sum(0) <= 1).all()
    single = logits[:1]
    assert apply_non_overlap(single) is single


def test_remove_small_objects_and_holes():
    m = _ring()
    out = remove_small_objects_and_holes(m, min_area=5)
    expected = m.copy()
    expected[14, 14] = False  # the 1-pixel speck goes
    expected[3:5, 3:5] = True  # the 4-pixel hole is filled; the 16-pixel one stays
    np.testing.assert_array_equal(out, expected)
    assert m[14, 14]  # input untouched
    stack = remove_small_objects_and_holes(np.stack([m, m]), 5)
    np.testing.assert_array_equal(stack[1], expected)
