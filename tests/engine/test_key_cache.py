"""Memory keys formed once per memory frame give the same tracking as keys formed at each use."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.engine.key_cache import KeyCache
from napari_sam2.engine.session import VideoSession
from tests.engine.test_session import disc_stack


def _track(model, key_cache_bytes: int):
    s = VideoSession(model, disc_stack(t=8), key_cache_bytes=key_cache_bytes)
    s.add_points(0, 1, [[30, 32]], [1])
    s.add_points(0, 2, [[45, 20]], [1])
    results = list(s.propagate(0))
    s.add_points(5, 1, [[34, 30]], [1], clear=False)  # a correction, then re-propagation
    results += list(s.propagate(5))
    return s, results


def test_cached_keys_track_as_uncached(small_model):
    cached, with_cache = _track(small_model, 64 << 20)
    plain, without = _track(small_model, 0)
    keys = cached._tracker.keys
    # Each tracked memory serves up to six later frames; the offsets (one per
    # temporal distance) serve every frame.
    assert keys.hits > keys.misses > 0
    assert plain._tracker.keys.hits == 0 and plain._tracker.keys.nbytes == 0
    for a, b in zip(with_cache, without, strict=True):
        assert a.frame == b.frame
        np.testing.assert_allclose(a.low_res_logits, b.low_res_logits, atol=2e-4, rtol=1e-4)
        np.testing.assert_array_equal(a.masks, b.masks)


def test_budget_is_kept_and_least_recent_goes_first(small_model):
    cache = KeyCache(small_model, max_bytes=1)
    assert cache.offsets(1, 4, 4) is not None and cache.nbytes == 0  # too large to keep
    h = 4
    probe = KeyCache(small_model, max_bytes=1 << 30)
    probe.offsets(0, h, h)
    one = probe.nbytes  # one entry: layers x h*w x width, in the model's compute dtype
    assert one > 0
    cache = KeyCache(small_model, max_bytes=2 * one)
    for t_pos in (0, 1, 0, 2):
        cache.offsets(t_pos, h, h)
    assert cache.nbytes <= 2 * one
    assert list(k[1] for k in cache._entries) == [0, 2]  # 1 was least recently used
    assert (cache.hits, cache.misses) == (1, 3)
    with pytest.raises(ValueError, match="budget"):
        KeyCache(small_model, max_bytes=-1)
