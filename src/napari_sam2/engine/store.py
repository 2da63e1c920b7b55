"""A byte-bounded LRU store of per-frame tensors that can spill to disk.

The video session keeps two kinds of per-frame tensors whose total size
grows with the stack: image-encoder features (cheap to recompute: dropped
when over budget) and object memories (expensive: spilled to disk and read
back on demand). Both use :class:`TensorStore`.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["SharedTensorStore", "TensorStore", "tensors_nbytes"]

Entry = dict[str, torch.Tensor]


def tensors_nbytes(tensors: Mapping[str, torch.Tensor]) -> int:
    """Bytes of the elements of ``tensors`` (views count their own size only)."""
    return sum(t.nelement() * t.element_size() for t in tensors.values())


def _compact(t: torch.Tensor) -> torch.Tensor:
    # torch.save writes a view's whole storage; copy views so a spill file
    # holds only this tensor.
    t = t.detach().cpu()
    if not t.is_contiguous() or t.untyped_storage().nbytes() != t.nelement() * t.element_size():
        t = t.clone(memory_format=torch.contiguous_format)
    return t


class TensorStore:
    """Mapping ``key -> dict[str, Tensor]`` holding at most ``max_bytes`` in RAM.

    When an insertion or reload pushes RAM use above ``max_bytes``, the least
    recently used entries are dropped (``on_evict="drop"``) or written to
    ``spill_dir`` (``on_evict="spill"``; a temporary directory removed on
    :meth:`close` or garbage collection when ``spill_dir`` is None) and read
    back, onto their original devices, by :meth:`get`. The bound is strict:
    an entry larger than ``max_bytes`` is evicted at once (and, when spilled,
    is read from disk on every :meth:`get` without coming back into RAM).

    Tensors are stored by reference, not copied; callers must not modify
    them in place. All methods are guarded by one lock, so a worker thread
    and the UI thread may share a store.
    """

    def __init__(
        self,
        max_bytes: int,
        spill_dir: str | Path | None = None,
        on_evict: str = "drop",
    ) -> None:
        if on_evict not in ("drop", "spill"):
            raise ValueError(f"on_evict must be 'drop' or 'spill', got {on_evict!r}")
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.on_evict = on_evict
        self._spill_root = None if spill_dir is None else Path(spill_dir)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._ram: OrderedDict[Hashable, Entry] = OrderedDict()  # oldest first
        self._sizes: dict[Hashable, int] = {}
        self._disk: dict[Hashable, tuple[Path, dict[str, torch.device]]] = {}
        self._counter = itertools.count()
        self._nbytes = 0
        self._lock = threading.RLock()
        self.evictions = 0  # entries dropped or spilled so far
        # Spill files in a user's spill_dir go when the store is garbage collected.
        weakref.finalize(self, _unlink_all, self._disk)

    # -- sizes ---------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Bytes of tensors held in RAM (or on an accelerator), spilled ones excluded."""
        return self._nbytes

    @property
    def num_spilled(self) -> int:
        """Number of entries currently on disk."""
        return len(self._disk)

    # -- mapping API -----------------------------------------------------------
    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._ram or key in self._disk

    def __len__(self) -> int:
        with self._lock:
            return len(self._ram) + len(self._disk)

    def keys(self) -> list[Hashable]:
        """All keys: spilled ones first, then in-RAM ones from least to most recent."""
        with self._lock:
            return list(self._disk) + list(self._ram)

    def put(self, key: Hashable, tensors: Mapping[str, torch.Tensor]) -> None:
        """Insert or replace ``key`` as the most recently used entry."""
        entry = dict(tensors)
        with self._lock:
            self._remove(key)
            self._insert(key, entry)
            self._evict()

    def get(self, key: Hashable) -> Entry | None:
        """The tensors of ``key`` (a new dict), or None; refreshes recency, reloads spills."""
        with self._lock:
            if key in self._ram:
                self._ram.move_to_end(key)
                return dict(self._ram[key])
            if key not in self._disk:
                return None
            path, devices = self._disk[key]
            entry = _read(path, devices)
            if tensors_nbytes(entry) > self.max_bytes:
                return entry  # would be evicted at once: leave it on disk
            self._remove(key)
            self._insert(key, entry)
            self._evict()
            return dict(entry)

    def pop(self, key: Hashable, default: Entry | None = None) -> Entry | None:
        """Remove ``key`` and return its tensors (reloaded if spilled), else ``default``."""
        with self._lock:
            if key in self._ram:
                entry = self._ram[key]
            elif key in self._disk:
                entry = _read(*self._disk[key])
            else:
                return default
            self._remove(key)
            return entry

    def discard(self, key: Hashable) -> None:
        """Remove ``key`` if present, without reading it back from disk."""
        with self._lock:
            self._remove(key)

    def clear(self) -> None:
        """Remove every entry and its spill file."""
        with self._lock:
            for key in list(self._ram) + list(self._disk):
                self._remove(key)

    def close(self) -> None:
        """Clear and remove the temporary spill directory, if any."""
        with self._lock:
            self.clear()
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"TensorStore({len(self._ram)} in RAM, {len(self._disk)} spilled, "
            f"{self._nbytes}/{self.max_bytes} bytes, on_evict={self.on_evict!r})"
        )

    # -- internals (caller holds the lock) -------------------------------------
    def _insert(self, key: Hashable, entry: Entry) -> None:
        self._ram[key] = entry
        self._sizes[key] = size = tensors_nbytes(entry)
        self._nbytes += size

    def _remove(self, key: Hashable) -> None:
        if key in self._ram:
            del self._ram[key]
            self._nbytes -= self._sizes.pop(key)
        if key in self._disk:
            path, _ = self._disk.pop(key)
            path.unlink(missing_ok=True)

    def _evict(self) -> None:
        while self._nbytes > self.max_bytes and self._ram:
            key = next(iter(self._ram))
            entry = self._ram.pop(key)
            self._nbytes -= self._sizes.pop(key)
            self.evictions += 1
            if self.on_evict == "spill":
                self._spill(key, entry)

    def _spill_dir(self) -> Path:
        if self._spill_root is not None:
            self._spill_root.mkdir(parents=True, exist_ok=True)
            return self._spill_root
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="napari-sam2-spill-")
        return Path(self._tmp.name)

    def _spill(self, key: Hashable, entry: Entry) -> None:
        # Keys may be any hashable, so files get a counter name plus our pid
        # (two sessions may share one spill_dir).
        path = self._spill_dir() / f"spill-{os.getpid()}-{id(self):x}-{next(self._counter)}.pt"
        devices = {name: t.device for name, t in entry.items()}
        torch.save({name: _compact(t) for name, t in entry.items()}, path)
        self._disk[key] = (path, devices)


class SharedTensorStore:
    """A :class:`TensorStore` shared by several owners (a memory bank and its forks):
    entries get fresh integer keys and are reference-counted, and an entry leaves
    the store when its last owner releases it."""

    def __init__(self, store: TensorStore) -> None:
        self.store = store
        self._refs: dict[int, int] = {}
        self._keys = itertools.count()
        self._lock = threading.Lock()

    def put(self, tensors: dict[str, torch.Tensor]) -> int:
        with self._lock:
            key = next(self._keys)
            self._refs[key] = 1
        self.store.put(key, tensors)
        return key

    def retain(self, key: int) -> None:
        with self._lock:
            self._refs[key] += 1

    def release(self, key: int) -> None:
        with self._lock:
            self._refs[key] -= 1
            if self._refs[key] > 0:
                return
            del self._refs[key]
        self.store.discard(key)

    @property
    def num_entries(self) -> int:
        return len(self._refs)


def _read(path: Path, devices: Mapping[str, torch.device]) -> Entry:
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    return {name: t.to(devices[name]) for name, t in loaded.items()}


def _unlink_all(disk: dict[Hashable, tuple[Path, dict]]) -> None:
    for path, _ in list(disk.values()):
        path.unlink(missing_ok=True)
