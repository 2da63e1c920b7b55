"""What SAM 2 remembers of each object, and which memories a frame attends to.

:class:`MemoryBank` is the one owner of every object's prompts and memories
in a video session; nothing else reads or writes them. Small tensors (object
pointers, object scores) stay in RAM; the large ones (memory features, mask
logits) live in a byte-bounded :class:`TensorStore` that spills to disk, so a
long stack does not grow RAM.

Each object has *conditioning* memories (frames the user prompted) and
*tracked* memories (frames propagation reached). :meth:`MemoryBank.select`
applies SAM 2's rule for which of them a frame sees, as a frozen
:class:`MemorySelection`; :meth:`MemoryBank.gather` turns selections that
share one structure into the model's batched :class:`MemoryPrompt`.

:meth:`MemoryBank.fork` gives a bank with the same history that shares every
stored tensor and diverges on write (the long-stack mode keeps one fork per
hypothesis). Stored entries are reference-counted across forks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch

from napari_sam2.engine.memory_types import (
    Candidates,
    Direction,
    FrameMemory,
    MemoryKind,
    MemoryRules,
    MemorySelection,
    PointerSlot,
    SpatialSlot,
    select_memories,
)
from napari_sam2.engine.prompts import MaskPrompt, PointPrompt
from napari_sam2.engine.store import SharedTensorStore, TensorStore
from napari_sam2.model.sam2 import MemoryPrompt

__all__ = [
    "Candidates",
    "Direction",
    "FrameMemory",
    "MemoryBank",
    "MemoryKind",
    "MemoryRules",
    "MemorySelection",
    "PointerSlot",
    "SpatialSlot",
    "select_memories",
]

Prompt = PointPrompt | MaskPrompt


@dataclass(frozen=True)
class _Entry:
    key: int  # of the stored tensors (mask logits, memory features)
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    has_features: bool
    iou: float | None = None
    score: float | None = None  # object_score as a float: read without touching the device


@dataclass
class _Object:
    """One object's prompts and memories (private: the bank's verbs change it)."""

    prompts: dict[int, Prompt] = field(default_factory=dict)
    memories: dict[MemoryKind, dict[int, _Entry]] = field(
        default_factory=lambda: {kind: {} for kind in MemoryKind}
    )
    pending: dict[int, FrameMemory] = field(
        default_factory=dict
    )  # prompted, memory not encoded yet
    visited: dict[int, Direction] = field(default_factory=dict)  # frames propagation reached
    candidates: dict[int, Candidates] = field(default_factory=dict)
    revision: int = 0  # bumped whenever what a frame attends to may change

    def copy(self) -> _Object:
        return _Object(
            dict(self.prompts),
            {kind: dict(table) for kind, table in self.memories.items()},
            dict(self.pending),
            dict(self.visited),
            {f: replace(c) for f, c in self.candidates.items()},
            self.revision,
        )


class MemoryBank:
    """Every object's prompts and memories, with SAM 2's memory-selection rule."""

    def __init__(self, store: TensorStore, rules: MemoryRules) -> None:
        self.rules = rules
        self._shared = SharedTensorStore(store)
        self._objects: dict[int, _Object] = {}

    # -- objects ------------------------------------------------------------------
    @property
    def obj_ids(self) -> list[int]:
        return list(self._objects)

    def __contains__(self, obj_id: int) -> bool:
        return obj_id in self._objects

    def add_object(self, obj_id: int) -> None:
        self._objects.setdefault(obj_id, _Object())

    def remove_object(self, obj_id: int) -> None:
        obj = self._objects.pop(obj_id)
        for table in obj.memories.values():
            for entry in table.values():
                self._shared.release(entry.key)

    def reset(self) -> None:
        for obj_id in self.obj_ids:
            self.remove_object(obj_id)

    def fork(self, obj_ids: Sequence[int] | None = None) -> MemoryBank:
        """A bank with this one's history (of ``obj_ids``, default all) that shares
        all stored tensors; writes diverge. :meth:`reset` it when done with it."""
        other = MemoryBank.__new__(MemoryBank)
        other.rules, other._shared = self.rules, self._shared
        ids = self.obj_ids if obj_ids is None else obj_ids
        other._objects = {obj_id: self._objects[obj_id].copy() for obj_id in ids}
        for obj in other._objects.values():
            for table in obj.memories.values():
                for entry in table.values():
                    self._shared.retain(entry.key)
        return other

    def entry_id(self, obj_id: int, frame: int, kind: MemoryKind) -> int | None:
        """Identity of a stored memory (equal ids: the very same tensors), None if absent."""
        entry = self._objects[obj_id].memories[kind].get(frame)
        return None if entry is None else entry.key

    def adopt(self, obj_id: int, frame: int, source: MemoryBank) -> None:
        """Take ``source``'s tracked memory of ``frame`` (a fork's), sharing its tensors."""
        if source._shared is not self._shared:
            raise ValueError("memories can only be adopted from a fork of the same bank")
        entry = source._objects[obj_id].memories[MemoryKind.TRACKED][frame]
        obj = self._objects[obj_id]
        self._shared.retain(entry.key)
        self._drop(obj, MemoryKind.TRACKED, frame)
        obj.memories[MemoryKind.TRACKED][frame] = entry
        obj.revision += 1

    def object_score(self, obj_id: int, frame: int, kind: MemoryKind) -> float:
        return float(self._objects[obj_id].memories[kind][frame].object_score.reshape(-1)[0])

    @property
    def store(self) -> TensorStore:
        """Where the large tensors live (shared with every fork)."""
        return self._shared.store

    @property
    def num_stored(self) -> int:
        """Stored tensor entries, counted once however many forks share them."""
        return self._shared.num_entries

    # -- prompts ------------------------------------------------------------------
    def record_prompt(
        self,
        obj_id: int,
        frame: int,
        prompt: Prompt,
        shown: FrameMemory,
        candidates: Candidates | None = None,
    ) -> None:
        """The user's prompt on ``frame`` and the mask shown for it (encoded on commit)."""
        obj = self._objects[obj_id]
        obj.prompts[frame] = prompt
        obj.pending[frame] = shown
        if candidates is None:
            obj.candidates.pop(frame, None)
        else:
            obj.candidates[frame] = candidates

    def prompt(self, obj_id: int, frame: int) -> Prompt | None:
        return self._objects[obj_id].prompts.get(frame)

    def prompted_frames(self, obj_id: int) -> list[int]:
        return sorted(self._objects[obj_id].prompts)

    def candidates(self, obj_id: int, frame: int) -> Candidates | None:
        return self._objects[obj_id].candidates.get(frame)

    def choose_candidate(self, obj_id: int, frame: int, index: int) -> FrameMemory:
        """Make candidate ``index`` of the last click the frame's mask; returns it."""
        obj = self._objects[obj_id]
        cands = obj.candidates[frame]
        cands.chosen = int(index)
        self._drop(obj, MemoryKind.CONDITIONING, frame)  # encoded again from the new mask
        obj.pending[frame] = shown = cands.memory(index)
        return shown

    def clear_prompt(self, obj_id: int, frame: int) -> None:
        """Forget the prompt on ``frame``; its mask stays as a tracked memory."""
        obj = self._objects[obj_id]
        obj.prompts.pop(frame, None)
        obj.pending.pop(frame, None)
        obj.candidates.pop(frame, None)
        entry = obj.memories[MemoryKind.CONDITIONING].pop(frame, None)
        if entry is not None:
            self._drop(obj, MemoryKind.TRACKED, frame)
            obj.memories[MemoryKind.TRACKED][frame] = entry  # same tensors, other role
            obj.visited.pop(frame, None)
            obj.revision += 1

    # -- memories -----------------------------------------------------------------
    def commit_prompted(self, encode: Callable[[int, FrameMemory], FrameMemory]) -> None:
        """Encode the shown masks of prompted frames into conditioning memories.

        ``encode(frame, shown)`` returns the memory with its features.
        """
        for obj_id, obj in self._objects.items():
            for frame, shown in sorted(obj.pending.items()):
                self._drop(obj, MemoryKind.TRACKED, frame)
                self._put(obj, MemoryKind.CONDITIONING, frame, encode(frame, shown))
            obj.pending.clear()
            if not obj.memories[MemoryKind.CONDITIONING]:
                raise ValueError(f"object {obj_id} has no prompts; add one or remove the object")

    def store_tracked(self, obj_id: int, frame: int, memory: FrameMemory) -> None:
        self._put(self._objects[obj_id], MemoryKind.TRACKED, frame, memory)

    def mark_visited(self, frame: int, direction: Direction, obj_ids=None) -> None:
        """Propagation reached ``frame`` for every object (or those of ``obj_ids``)."""
        for obj_id, obj in self._objects.items():
            if obj_ids is None or obj_id in obj_ids:
                obj.visited[frame] = direction

    def visited(self, obj_id: int, frame: int) -> Direction | None:
        """How propagation last reached ``frame`` for this object (None: never)."""
        return self._objects[obj_id].visited.get(frame)

    def is_conditioning(self, obj_id: int, frame: int) -> bool:
        return frame in self._objects[obj_id].memories[MemoryKind.CONDITIONING]

    def conditioning_frames(self, obj_id: int) -> list[int]:
        return list(self._objects[obj_id].memories[MemoryKind.CONDITIONING])

    def frames_with_masks(self, obj_id: int) -> list[int]:
        """Frames where the object has a mask (prompted or tracked), sorted."""
        obj = self._objects[obj_id]
        return sorted(set(obj.pending).union(*obj.memories.values()))

    def scores(self, obj_id: int) -> dict[int, tuple[float, float | None, bool]]:
        """``frame -> (object score logit, predicted IoU, prompted)`` of what is shown.

        Reads only what stays in RAM; copies each table first, so another
        thread may call it while a propagation writes (a snapshot).
        """
        obj = self._objects.get(obj_id)
        if obj is None:
            return {}
        out: dict[int, tuple[float, float | None, bool]] = {}
        prompted = set(dict(obj.prompts))
        for kind in (MemoryKind.TRACKED, MemoryKind.CONDITIONING):  # conditioning wins
            for frame, entry in dict(obj.memories[kind]).items():
                score = _score(entry.object_score) if entry.score is None else entry.score
                out[frame] = (score, entry.iou, frame in prompted)
        for frame, mem in dict(obj.pending).items():
            out[frame] = (_score(mem.object_score), mem.iou, True)
        return out

    def revision(self, obj_id: int) -> int:
        return self._objects[obj_id].revision

    def memory(self, obj_id: int, frame: int, kind: MemoryKind) -> FrameMemory | None:
        """A stored memory; None if absent or dropped from the store (then forgotten)."""
        obj = self._objects[obj_id]
        entry = obj.memories[kind].get(frame)
        if entry is None:
            return None
        tensors = self._shared.store.get(entry.key)
        if tensors is None:  # evicted with on_evict="drop": the frame must be tracked again
            self._drop(obj, kind, frame)
            return None
        return FrameMemory(
            tensors["mask_logits"], entry.obj_ptr, entry.object_score, tensors.get("features"),
            entry.iou,
        )

    def latest(self, obj_id: int, frame: int) -> FrameMemory | None:
        """What the user sees for this object on ``frame``: pending, conditioning, then tracked."""
        pending = self._objects[obj_id].pending.get(frame)
        if pending is not None:
            return pending
        return self.memory(obj_id, frame, MemoryKind.CONDITIONING) or self.memory(
            obj_id, frame, MemoryKind.TRACKED
        )

    def _put(self, obj: _Object, kind: MemoryKind, frame: int, memory: FrameMemory) -> None:
        tensors = {"mask_logits": memory.mask_logits}
        if memory.features is not None:
            tensors["features"] = memory.features
        self._drop(obj, kind, frame)
        key = self._shared.put(tensors)
        obj.memories[kind][frame] = _Entry(
            key, memory.obj_ptr, memory.object_score, memory.features is not None, memory.iou,
            _score(memory.object_score),
        )
        obj.revision += 1

    def _drop(self, obj: _Object, kind: MemoryKind, frame: int) -> None:
        entry = obj.memories[kind].pop(frame, None)
        if entry is not None:
            self._shared.release(entry.key)
            obj.revision += 1

    # -- selection ----------------------------------------------------------------
    def select(self, obj_id: int, frame: int, direction: Direction) -> MemorySelection:
        """Which memories ``frame`` attends to (:func:`select_memories`)."""
        obj = self._objects[obj_id]
        cond, tracked = obj.memories[MemoryKind.CONDITIONING], obj.memories[MemoryKind.TRACKED]
        return select_memories(
            self.rules,
            obj_id,
            frame,
            direction,
            conditioning=[t for t, e in cond.items() if self._stored(e)],
            tracked_features={t for t, e in tracked.items() if e.has_features and self._stored(e)},
            tracked=tracked.keys(),
        )

    def _stored(self, entry: _Entry) -> bool:
        return entry.key in self._shared.store

    def gather(
        self,
        selections: Sequence[MemorySelection],
        keys: Callable[[int, torch.Tensor], list[torch.Tensor]] | None = None,
    ) -> MemoryPrompt:
        """The memories of selections with one structure, batched as the model takes them.

        ``keys(store_key, features)`` (a cache of the model's memory keys) fills
        ``spatial_keys``: the store key names a stored memory until it is rewritten.
        """
        if len({s.structure for s in selections}) != 1:
            raise ValueError("selections of different structure cannot be batched")
        spatial_rows, pointer_rows, key_rows = [], [], []
        for sel in selections:
            obj = self._objects[sel.obj_id]
            row = [self.memory(sel.obj_id, s.frame, s.kind).features for s in sel.spatial]
            spatial_rows.append(row)
            if keys is not None:
                entries = [obj.memories[s.kind][s.frame] for s in sel.spatial]
                key_rows.append([keys(e.key, f) for e, f in zip(entries, row)])
            pointer_rows.append([obj.memories[p.kind][p.frame].obj_ptr for p in sel.pointers])
        first = selections[0]
        spatial = [
            (_cat([row[i] for row in spatial_rows]), s.t_pos) for i, s in enumerate(first.spatial)
        ]
        pointers = [
            (torch.cat([row[i] for row in pointer_rows]), p.distance)
            for i, p in enumerate(first.pointers)
        ]
        prompt = MemoryPrompt(spatial, pointers, first.max_distance)
        if keys is not None:
            prompt.spatial_keys = [
                [_cat([row[i][layer] for row in key_rows]) for layer in range(len(key_rows[0][i]))]
                for i in range(len(first.spatial))
            ]
        return prompt


def _cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors)


def _score(object_score: torch.Tensor) -> float:
    return float(object_score.reshape(-1)[0])
