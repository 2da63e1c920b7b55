"""Image-encoder outputs per frame: in RAM, optionally persisted in a zarr store.

Encoding a frame is the most expensive step of tracking, so features are
kept in a byte-bounded RAM cache (:class:`~napari_sam2.engine.store.TensorStore`,
least recently used dropped first) and, when ``disk_path`` is given, in a
zarr directory that lets a later session on the same stack skip encoding.

On disk each feature name is one array of shape ``(n_frames, *feature_shape)``
with one chunk per frame, plus a ``present`` bool array. The group's attrs
hold a fingerprint (model, image size, normalisation, frame source, ...);
reopening with another fingerprint wipes the cache with a warning instead of
serving stale features. Works with zarr 2 and zarr 3.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from napari_sam2.engine.store import TensorStore

__all__ = ["CacheStats", "FeatureCache"]

_MARKER = "napari-sam2 feature cache"
_FORMAT = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_INITIAL_FRAMES = 16  # disk arrays grow by doubling as frames arrive
# numpy has no bfloat16 (nor float8): such tensors are stored bit for bit as ints.
_BITS_AS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`FeatureCache`; ``hits`` include ``disk_hits``."""

    hits: int
    misses: int
    disk_hits: int
    nbytes: int  # RAM bytes held
    entries: int  # frames in RAM
    disk_entries: int  # frames on disk

    def __getitem__(self, name: str) -> int:
        """Dict-style access too: ``stats["misses"]``."""
        return getattr(self, name)


def _zarr_major() -> int:
    import zarr

    return int(zarr.__version__.split(".")[0])


def _create_array(
    group: Any, name: str, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any
) -> Any:
    # Features are float noise to a compressor: store raw chunks, fast to write.
    fill = False if np.dtype(dtype) == np.bool_ else 0
    if _zarr_major() >= 3:
        return group.create_array(
            name, shape=shape, chunks=chunks, dtype=dtype, compressors=None, fill_value=fill
        )
    return group.create_dataset(
        name, shape=shape, chunks=chunks, dtype=dtype, compressor=None, fill_value=fill
    )


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    """A numpy array with the tensor's bits (bfloat16 etc. viewed as same-size ints)."""
    t = t.detach().cpu().contiguous()
    try:
        return t.numpy()
    except TypeError:
        return t.view(_BITS_AS[t.element_size()]).numpy()


class FeatureCache:
    """Per-frame image-encoder outputs (``dict[str, Tensor]``), RAM plus optional disk.

    ``max_bytes`` bounds the RAM part. ``disk_path`` (a ``.zarr`` directory,
    created if missing) adds persistence, validated by ``fingerprint``.
    Tensors read from disk go to ``device`` if given, else to the device of
    the last tensors :meth:`put` (CPU before any put). Dtypes are kept.
    """

    def __init__(
        self,
        max_bytes: int = 1 << 30,
        disk_path: str | Path | None = None,
        fingerprint: str = "",
        *,
        device: torch.device | str | None = None,
    ) -> None:
        self._ram = TensorStore(max_bytes, on_evict="drop")
        self.fingerprint = str(fingerprint)
        self.disk_path = None if disk_path is None else Path(disk_path)
        self._device = None if device is None else torch.device(device)
        self._fixed_device = device is not None
        self._lock = threading.RLock()
        self._hits = self._misses = self._disk_hits = 0
        self._group: Any = None
        if self.disk_path is not None:
            self._group = self._open_disk(self.disk_path)

    # -- public API -------------------------------------------------------------
    def get(self, frame: int) -> dict[str, torch.Tensor] | None:
        """The features of ``frame`` (RAM first, then disk), or None."""
        frame = int(frame)
        with self._lock:
            found = self._ram.get(frame)
            if found is None and self._on_disk(frame):
                found = self._read_disk(frame)
                self._ram.put(frame, found)
                self._disk_hits += 1
            if found is None:
                self._misses += 1
            else:
                self._hits += 1
            return found

    def put(self, frame: int, tensors: Mapping[str, torch.Tensor]) -> None:
        """Cache the features of ``frame`` (and write them to disk if enabled)."""
        frame = int(frame)
        tensors = dict(tensors)
        with self._lock:
            if not self._fixed_device and tensors:
                self._device = next(iter(tensors.values())).device
            self._ram.put(frame, tensors)
            if self._group is not None:
                try:
                    self._write_disk(frame, tensors)
                except OSError as exc:  # e.g. disk full: keep working from RAM
                    warnings.warn(f"feature cache: disk writes disabled ({exc})", stacklevel=2)
                    self._group = None

    def __contains__(self, frame: int) -> bool:
        with self._lock:
            return int(frame) in self._ram or self._on_disk(int(frame))

    def clear(self, disk: bool = True) -> None:
        """Forget every frame in RAM and, with ``disk``, on disk too."""
        with self._lock:
            self._ram.clear()
            if disk and self._group is not None:
                self._group = self._reset(self.disk_path)

    def close(self) -> None:
        """Drop the RAM part; the disk part stays for a later session."""
        with self._lock:
            self._ram.close()
            self._group = None

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            disk = 0
            if self._group is not None and "present" in self._group:
                disk = int(np.count_nonzero(self._group["present"][:]))
            return CacheStats(
                self._hits, self._misses, self._disk_hits, self._ram.nbytes, len(self._ram), disk
            )

    # -- disk -------------------------------------------------------------------
    def _reset(self, path: Path) -> Any:
        import zarr

        group = zarr.open_group(str(path), mode="w")
        group.attrs.update(
            {
                "napari_sam2": _MARKER,
                "format": _FORMAT,
                "fingerprint": self.fingerprint,
                "layout": {},
            }
        )
        return group

    def _open_disk(self, path: Path) -> Any:
        import zarr

        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            return self._reset(path)
        try:
            group = zarr.open_group(str(path), mode="r+")
            attrs = dict(group.attrs)
        except Exception as exc:
            raise ValueError(f"{path} exists and is not a napari-sam2 feature cache") from exc
        if attrs.get("napari_sam2") != _MARKER:
            # Never wipe a directory we did not create (it may be the user's data).
            raise ValueError(f"{path} exists and is not a napari-sam2 feature cache")
        if attrs.get("fingerprint") != self.fingerprint or attrs.get("format") != _FORMAT:
            warnings.warn(
                f"feature cache at {path} was made for another model, image or settings "
                f"({attrs.get('fingerprint')!r} != {self.fingerprint!r}); clearing it",
                UserWarning,
                stacklevel=3,
            )
            return self._reset(path)
        return group

    def _on_disk(self, frame: int) -> bool:
        group = self._group
        if group is None or "present" not in group:
            return False
        present = group["present"]
        return 0 <= frame < present.shape[0] and bool(present[frame])

    def _write_disk(self, frame: int, tensors: dict[str, torch.Tensor]) -> None:
        group = self._group
        layout = dict(group.attrs["layout"])
        wanted = {
            name: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
            for name, t in tensors.items()
        }
        if not layout:
            for name in wanted:
                if not _NAME_RE.match(name) or name == "present":
                    raise ValueError(f"feature name {name!r} cannot be a zarr array name")
            n = max(_INITIAL_FRAMES, frame + 1)
            for name, t in tensors.items():
                stored = _to_numpy(t.detach().reshape(-1)[:0]).dtype
                _create_array(group, name, (n, *t.shape), (1, *t.shape), stored)
            _create_array(group, "present", (n,), (1024,), bool)
            group.attrs["layout"] = layout = wanted
        elif layout != wanted:
            raise ValueError(
                f"features of frame {frame} do not match the cache layout: {wanted} != {layout}"
            )
        present = group["present"]
        if frame >= present.shape[0]:
            n = max(frame + 1, 2 * present.shape[0])
            for name, t in tensors.items():
                group[name].resize((n, *t.shape))
            present.resize((n,))
        for name, t in tensors.items():
            group[name][frame] = _to_numpy(t)
        present[frame] = True  # last: a crash mid-write leaves the frame absent

    def _read_disk(self, frame: int) -> dict[str, torch.Tensor]:
        group = self._group
        device = self._device or torch.device("cpu")
        out = {}
        for name, info in dict(group.attrs["layout"]).items():
            t = torch.from_numpy(np.ascontiguousarray(group[name][frame]))
            dtype = getattr(torch, info["dtype"])
            if t.dtype != dtype:
                t = t.view(dtype)
            out[name] = t.to(device)
        return out
