from __future__ import annotations

import gc
import threading

import pytest
import torch

from napari_sam2.engine.store import TensorStore, tensors_nbytes


def _entry(seed: int, n: int = 256) -> dict[str, torch.Tensor]:
    """1 KiB of float32 plus 128 bytes of bfloat16."""
    g = torch.Generator().manual_seed(seed)
    return {"a": torch.randn(n, generator=g), "b": torch.randn(64, generator=g).bfloat16()}


ENTRY_BYTES = 256 * 4 + 64 * 2


def test_nbytes_and_views():
    assert tensors_nbytes(_entry(0)) == ENTRY_BYTES
    big = torch.zeros(1000)
    assert tensors_nbytes({"v": big[:10]}) == 40


def test_drop_evicts_least_recently_used_by_bytes():
    store = TensorStore(max_bytes=3 * ENTRY_BYTES, on_evict="drop")
    for i in range(3):
        store.put(i, _entry(i))
    assert store.nbytes == 3 * ENTRY_BYTES and len(store) == 3
    assert store.get(0) is not None  # 0 is now the most recent; 1 is the oldest
    store.put(3, _entry(3))
    assert 1 not in store and store.keys() == [2, 0, 3]
    assert store.nbytes == 3 * ENTRY_BYTES and store.evictions == 1
    assert store.get(1) is None
    # Replacing a key does not double count it.
    store.put(3, _entry(4))
    assert store.nbytes == 3 * ENTRY_BYTES and torch.equal(store.get(3)["a"], _entry(4)["a"])


def test_entry_larger_than_budget_is_dropped_at_once():
    store = TensorStore(max_bytes=100)
    store.put("big", _entry(0))
    assert "big" not in store and store.nbytes == 0


def test_spill_and_reload_exactly(tmp_path):
    store = TensorStore(max_bytes=2 * ENTRY_BYTES, spill_dir=tmp_path, on_evict="spill")
    entries = {i: _entry(i) for i in range(5)}
    for i, e in entries.items():
        store.put(("obj", i), e)
    assert store.nbytes == 2 * ENTRY_BYTES and len(store) == 5 and store.num_spilled == 3
    assert len(list(tmp_path.glob("*.pt"))) == 3
    for i in (0, 4, 1, 2, 3):  # reloading spills others; every value comes back exactly
        got = store.get(("obj", i))
        assert got["b"].dtype == torch.bfloat16
        assert torch.equal(got["a"], entries[i]["a"]) and torch.equal(got["b"], entries[i]["b"])
        assert store.nbytes <= 2 * ENTRY_BYTES
    assert len(store) == 5 and len(list(tmp_path.glob("*.pt"))) == store.num_spilled == 3
    popped = store.pop(("obj", 0))  # spilled by now: read back and removed
    assert torch.equal(popped["a"], entries[0]["a"]) and ("obj", 0) not in store
    store.discard(("obj", 1))
    assert len(store) == 3 and len(list(tmp_path.glob("*.pt"))) == store.num_spilled
    store.clear()
    assert len(store) == 0 and store.nbytes == 0 and not list(tmp_path.glob("*.pt"))


def test_spilled_view_file_holds_only_the_view(tmp_path):
    store = TensorStore(max_bytes=0, spill_dir=tmp_path, on_evict="spill")
    base = torch.arange(100_000, dtype=torch.float32)
    store.put("v", {"x": base[10:20]})
    (path,) = tmp_path.glob("*.pt")
    assert path.stat().st_size < 10_000
    assert torch.equal(store.get("v")["x"], base[10:20])  # oversize: served from disk
    assert store.num_spilled == 1


def test_temporary_spill_dir_is_removed_on_close_and_gc():
    store = TensorStore(max_bytes=0, on_evict="spill")
    store.put(1, _entry(1))
    spill = store._spill_dir()
    assert any(spill.iterdir())
    store.close()
    assert not spill.exists()

    store = TensorStore(max_bytes=0, on_evict="spill")
    store.put(1, _entry(1))
    spill = store._spill_dir()
    del store
    gc.collect()
    assert not spill.exists()


def test_get_returns_a_new_dict_and_missing_keys():
    store = TensorStore(max_bytes=10_000)
    store.put("k", _entry(0))
    got = store.get("k")
    got["extra"] = torch.zeros(1)
    assert "extra" not in store.get("k")
    assert store.pop("nope") is None and store.get("nope") is None
    store.discard("nope")
    with pytest.raises(ValueError, match="on_evict"):
        TensorStore(10, on_evict="swap")


def test_concurrent_puts_and_gets_keep_the_bound(tmp_path):
    store = TensorStore(max_bytes=4 * ENTRY_BYTES, spill_dir=tmp_path, on_evict="spill")
    errors = []

    def work(offset):
        try:
            for i in range(20):
                store.put(offset + i, _entry(i))
                store.get(offset + i // 2)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(store) == 60 and store.nbytes <= 4 * ENTRY_BYTES
    assert torch.equal(store.get(105)["a"], _entry(5)["a"])
