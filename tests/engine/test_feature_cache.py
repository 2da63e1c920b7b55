from __future__ import annotations

import warnings

import pytest
import torch

pytest.importorskip("zarr")

from napari_sam2.engine.feature_cache import FeatureCache


def _features(frame: int) -> dict[str, torch.Tensor]:
    """Small stand-ins shaped like the real outputs (float32 plus one bfloat16)."""
    g = torch.Generator().manual_seed(frame)
    return {
        "image_embed": torch.randn(1, 8, 4, 4, generator=g),
        "high_res_0": torch.randn(1, 2, 16, 16, generator=g),
        "high_res_1": torch.randn(1, 4, 8, 8, generator=g).bfloat16(),
    }


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


FRAME_BYTES = sum(t.nelement() * t.element_size() for t in _features(0).values())


def test_ram_only_hits_misses_and_eviction():
    cache = FeatureCache(max_bytes=2 * FRAME_BYTES)
    assert cache.get(0) is None
    for f in range(3):
        cache.put(f, _features(f))
    assert 0 not in cache and 1 in cache and 2 in cache
    _assert_same(cache.get(2), _features(2))
    s = cache.stats
    assert (s.hits, s.misses, s.disk_hits, s.entries, s.disk_entries) == (1, 1, 0, 2, 0)
    assert s.nbytes == 2 * FRAME_BYTES and s["misses"] == 1
    cache.clear()
    assert 2 not in cache and cache.stats.nbytes == 0


def test_disk_round_trip_and_growth(tmp_path):
    path = tmp_path / "feats.zarr"
    cache = FeatureCache(max_bytes=FRAME_BYTES, disk_path=path, fingerprint="tiny|1024|x")
    for f in (0, 3, 40):  # 40 forces the on-disk arrays to grow
        cache.put(f, _features(f))
    assert 0 in cache and 40 in cache and 5 not in cache  # 0 is on disk only
    assert cache.stats.disk_entries == 3
    cache.close()

    reopened = FeatureCache(max_bytes=FRAME_BYTES, disk_path=path, fingerprint="tiny|1024|x")
    for f in (0, 3, 40):
        _assert_same(reopened.get(f), _features(f))
    assert reopened.get(7) is None
    s = reopened.stats
    assert (s.hits, s.disk_hits, s.misses) == (3, 3, 1)
    _assert_same(reopened.get(40), _features(40))  # now served from RAM
    assert reopened.stats.disk_hits == 3


def test_fingerprint_mismatch_clears_with_warning(tmp_path):
    path = tmp_path / "feats.zarr"
    FeatureCache(disk_path=path, fingerprint="model-a").put(1, _features(1))
    with pytest.warns(UserWarning, match="clearing it"):
        other = FeatureCache(disk_path=path, fingerprint="model-b")
    assert 1 not in other and other.get(1) is None
    other.put(2, _features(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = FeatureCache(disk_path=path, fingerprint="model-b")
    _assert_same(again.get(2), _features(3))


def test_refuses_foreign_directory_and_layout_change(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "image.tif").write_bytes(b"precious")
    with pytest.raises(ValueError, match="not a napari-sam2 feature cache"):
        FeatureCache(disk_path=tmp_path / "data")
    assert (tmp_path / "data" / "image.tif").read_bytes() == b"precious"

    cache = FeatureCache(disk_path=tmp_path / "c.zarr")
    cache.put(0, _features(0))
    with pytest.raises(ValueError, match="do not match the cache layout"):
        cache.put(1, {"image_embed": torch.zeros(1, 8, 2, 2)})


def test_clear_removes_disk_entries(tmp_path):
    cache = FeatureCache(disk_path=tmp_path / "c.zarr", fingerprint="f")
    cache.put(0, _features(0))
    cache.clear()
    assert 0 not in cache and cache.stats.disk_entries == 0
    assert FeatureCache(disk_path=tmp_path / "c.zarr", fingerprint="f").get(0) is None
