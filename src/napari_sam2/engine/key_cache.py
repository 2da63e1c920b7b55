"""Memory-attention keys of memory frames, formed once and reused.

A tracked frame's memory is attended to by the next six frames (a prompted
frame's by every frame). Its keys in each memory-attention layer (the
features plus their spatial encoding, projected and rotated) do not depend
on the frame attending to them; only the temporal encoding of its distance
does, and that adds a per-distance offset (keys are linear in their input).
So both are cached here: per stored memory (by its store key, which changes
whenever the memory is rewritten) and per distance. Byte-bounded, least
recently used first out: past the budget (many objects) keys are formed again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

import torch

from napari_sam2.model.sam2 import SAM2Model

# Off by default: measured on a 2-core CPU (tiny at 1024, float32, 2026-11-23) a
# tracked frame took 2.27-2.33 s with the cache and 2.31-2.33 s without: the key
# projection is about 1 % of a frame's FLOPs and adding the offsets costs a pass
# of its own, while the cache holds ~16 MiB per memory frame and object.
DEFAULT_KEY_CACHE_BYTES = 0


class KeyCache:
    def __init__(self, model: SAM2Model, max_bytes: int = DEFAULT_KEY_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"key cache budget must be >= 0 bytes, got {max_bytes}")
        self.model = model
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[list[torch.Tensor], int]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def frame_keys(self, store_key: int, features: torch.Tensor) -> list[torch.Tensor]:
        """The keys per layer of one stored memory ``features (1, mem_dim, h, w)``."""
        return self._get(("frame", store_key), lambda: self.model.memory_keys(features))

    def offsets(self, t_pos: int, h: int, w: int) -> list[torch.Tensor]:
        """What temporal position ``t_pos`` adds to a memory's keys, per layer."""
        return self._get(("offset", t_pos, h, w),
                         lambda: self.model.memory_key_offsets(t_pos, h, w))

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0

    def _get(self, key: Hashable, make) -> list[torch.Tensor]:
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return hit[0]
        self.misses += 1
        with torch.inference_mode():  # cached values for inference, never part of a graph
            value = make()
        size = sum(t.numel() * t.element_size() for t in value)
        if size <= self.max_bytes:
            while self.nbytes + size > self.max_bytes:
                _, (_, old) = self._entries.popitem(last=False)
                self.nbytes -= old
            self._entries[key] = (value, size)
            self.nbytes += size
        return value
