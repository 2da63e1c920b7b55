from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_sam2.engine.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Normalization,
    intensity_limits,
    normalize_frame,
    to_model_input,
)


def _reference_uint8(rgb: np.ndarray) -> torch.Tensor:
    """The reference pipeline for a uint8 (H, W, 3) frame already at model size:
    ToTensor (float32 / 255) then Normalize (sub mean, div std)."""
    x = torch.from_numpy(rgb).permute(2, 0, 1).contiguous().float().div(255)
    mean = torch.as_tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.as_tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]
    return x.sub_(mean).div_(std)[None]


def test_uint8_rgb_at_model_size_is_bit_exact():
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = to_model_input(rgb, 64)
    assert out.shape == (1, 3, 64, 64) and out.dtype == torch.float32
    assert torch.equal(out, _reference_uint8(rgb))


def test_uint8_grey_is_replicated_exactly():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = to_model_input(grey, 16)
    assert torch.equal(out, _reference_uint8(np.repeat(grey[:, :, None], 3, axis=2)))


def test_resize_is_bilinear_antialiased_after_scaling():
    img = np.random.default_rng(1).integers(0, 256, (40, 30), dtype=np.uint8)
    out = to_model_input(img, 16)
    x = torch.from_numpy(img).float().div(255)[None, None]
    x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False, antialias=True)
    expected = (x.expand(1, 3, 16, 16) - torch.tensor(IMAGENET_MEAN)[None, :, None, None]) / (
        torch.tensor(IMAGENET_STD)[None, :, None, None]
    )
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    # Grey channels are identical copies.
    torch.testing.assert_close(
        out[0, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0],
        out[0, 2] * IMAGENET_STD[2] + IMAGENET_MEAN[2],
    )


def test_uint16_percentile_mapping():
    img = np.arange(1000, dtype=np.uint16).reshape(25, 40) + 100  # 100..1099
    lo, hi = intensity_limits(img, Normalization(low_percentile=10, high_percentile=90))
    assert (lo, hi) == pytest.approx((np.percentile(img, 10), np.percentile(img, 90)))
    x = normalize_frame(img, Normalization(low_percentile=10, high_percentile=90))
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    inside = (img > lo) & (img < hi)
    np.testing.assert_allclose(x[inside], (img[inside] - lo) / (hi - lo), atol=1e-6)
    assert (x[img <= lo] == 0).all() and (x[img >= hi] == 1).all()


def test_modes_and_limits():
    img = np.array([[10, 20], [30, 50]], dtype=np.uint16)
    np.testing.assert_allclose(
        normalize_frame(img, Normalization(mode="minmax")), [[0, 0.25], [0.5, 1.0]]
    )
    np.testing.assert_allclose(
        normalize_frame(img, Normalization(limits=(20, 30))), [[0, 0], [1, 1]]
    )
    u8 = np.array([[0, 128], [200, 255]], np.uint8)
    np.testing.assert_allclose(
        normalize_frame(
            u8, Normalization(mode="percentile", low_percentile=0, high_percentile=100)
        ),
        [[0, 128 / 255], [200 / 255, 1]],
        rtol=1e-6,
    )
    f = np.array([[0.2, 0.7]], np.float32)
    np.testing.assert_array_equal(normalize_frame(f, Normalization(mode="none")), f)
    b = np.array([[True, False]])
    np.testing.assert_array_equal(normalize_frame(b), [[1.0, 0.0]])
    with pytest.raises(ValueError, match="unknown normalization mode"):
        Normalization(mode="zscore")
    with pytest.raises(ValueError, match="limits"):
        Normalization(limits=(5, 5))


def test_sparse_frame_falls_back_to_minmax_and_constant_frame_is_zero():
    sparse = np.zeros((100, 100), np.uint16)
    sparse[5, 5] = 4000  # percentiles are both 0
    x = normalize_frame(sparse)
    assert x[5, 5] == 1.0 and x.sum() == 1.0
    const = np.full((8, 8), 7.5, np.float64)
    out = to_model_input(const, 8)
    assert torch.isfinite(out).all()
    expected = (0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(out[0, :, 3, 3], expected)


def test_nan_and_inf_are_rejected_with_frame_index():
    img = np.ones((4, 4), np.float32)
    img[1, 1] = np.nan
    with pytest.raises(ValueError, match="frame 3 contains NaN"):
        to_model_input(img, 4, frame=3)
    img[1, 1] = np.inf
    with pytest.raises(ValueError, match="frame contains NaN or infinite"):
        normalize_frame(img)


def test_bad_shapes():
    with pytest.raises(ValueError, match="expected \\(H, W\\)"):
        to_model_input(np.zeros((4, 4, 2), np.uint8), 4, frame=0)
    rgba = np.random.default_rng(2).integers(0, 256, (8, 8, 4), dtype=np.uint8)
    assert torch.equal(to_model_input(rgba, 8), _reference_uint8(rgba[:, :, :3]))


def test_percentiles_are_fast_and_close_on_large_uint16():
    rng = np.random.default_rng(3)
    img = rng.gamma(2.0, 300.0, (2048, 2048)).astype(np.uint16)
    start = time.perf_counter()
    lo, hi = intensity_limits(img)
    elapsed = time.perf_counter() - start
    exact = np.percentile(img, (0.5, 99.8))
    assert abs(lo - exact[0]) <= 3 and abs(hi - exact[1]) <= 0.01 * exact[1]
    assert elapsed < 0.2
