"""Per-object memory of a video session: what SAM 2 remembers of each frame.

Each object has conditioning frames (where the user prompted) and
non-conditioning frames (tracked). Small tensors (object pointers, scores)
stay in RAM; the large ones (memory features, mask logits) live in a
byte-bounded store that spills to disk, so a long stack does not grow RAM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from napari_sam2.engine.prompts import MaskPrompt, PointPrompt
from napari_sam2.engine.store import TensorStore


@dataclass
class FrameMemory:
    """One object's output on one frame."""

    mask_logits: torch.Tensor  # (1, 1, h, w) low-resolution logits
    obj_ptr: torch.Tensor  # (1, C)
    object_score: torch.Tensor  # (1, 1)
    features: torch.Tensor | None = None  # (1, mem_dim, h', w'); None until encoded


@dataclass
class Candidates:
    """The multimask answer to a single click, for choosing another candidate."""

    mask_logits: torch.Tensor  # (M, h, w)
    ious: torch.Tensor  # (M,)
    obj_ptrs: torch.Tensor  # (M, C)
    object_score: torch.Tensor  # (1, 1)
    chosen: int


@dataclass
class _Light:
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    has_features: bool


@dataclass
class ObjectTrack:
    """Everything the session knows about one object (prompts and memories)."""

    obj_id: int
    store: TensorStore
    prompts: dict[int, PointPrompt | MaskPrompt] = field(default_factory=dict)
    cond: dict[int, _Light] = field(default_factory=dict)  # conditioning frames
    non_cond: dict[int, _Light] = field(default_factory=dict)  # tracked frames
    pending: dict[int, FrameMemory] = field(default_factory=dict)  # clicked, memory not yet encoded
    tracked: dict[int, bool] = field(default_factory=dict)  # frame -> tracked in reverse?
    candidates: dict[int, Candidates] = field(default_factory=dict)
    # Bumped whenever a memory is stored or dropped: what a frame attends to may change.
    revision: int = 0
    # The last memory-conditioned embedding of a refined frame: (frame, reverse, revision), tensor.
    conditioned: tuple[tuple[int, bool, int], torch.Tensor] | None = None

    # -- storage ----------------------------------------------------------
    def _key(self, frame: int, cond: bool) -> tuple:
        return (self.obj_id, frame, cond)

    def put(self, frame: int, mem: FrameMemory, cond: bool) -> None:
        table = self.cond if cond else self.non_cond
        tensors = {"mask_logits": mem.mask_logits}
        if mem.features is not None:
            tensors["features"] = mem.features
        self.store.put(self._key(frame, cond), tensors)
        table[frame] = _Light(mem.obj_ptr, mem.object_score, mem.features is not None)
        self.revision += 1

    def get(self, frame: int, cond: bool) -> FrameMemory | None:
        light = (self.cond if cond else self.non_cond).get(frame)
        if light is None:
            return None
        tensors = self.store.get(self._key(frame, cond))
        if tensors is None:  # dropped from the store: the frame must be re-tracked
            (self.cond if cond else self.non_cond).pop(frame, None)
            self.revision += 1
            return None
        return FrameMemory(tensors["mask_logits"], light.obj_ptr, light.object_score, tensors.get("features"))

    def drop(self, frame: int, cond: bool) -> None:
        (self.cond if cond else self.non_cond).pop(frame, None)
        self.store.discard(self._key(frame, cond))
        self.revision += 1

    def latest(self, frame: int) -> FrameMemory | None:
        """What the user sees for this object on ``frame`` (pending, then cond, then tracked)."""
        if frame in self.pending:
            return self.pending[frame]
        return self.get(frame, True) or self.get(frame, False)

    def clear(self) -> None:
        for frame in list(self.cond):
            self.drop(frame, True)
        for frame in list(self.non_cond):
            self.drop(frame, False)
        self.prompts.clear()
        self.pending.clear()
        self.tracked.clear()
        self.candidates.clear()
        self.conditioned = None

    # -- memory selection -----------------------------------------------------
    def select(self, frame: int, reverse: bool, num_frames: int, num_maskmem: int,
               max_ptrs: int, signed_ptr_distance: bool) -> tuple[list, list, int]:
        """Which memories ``frame`` attends to, as SAM 2's video predictor picks them.

        Returns ``(spatial, pointers, max_distance)``: spatial is a list of
        ``(frame, is_cond, t_pos)`` with t_pos 0 for conditioning frames and
        1..num_maskmem-1 for the recent tracked frames (nearest last);
        pointers a list of ``(frame, is_cond, distance)``.
        """
        step = 1 if reverse else -1  # direction of "the past"
        spatial = [(t, True, 0) for t in self.cond]
        for t_pos in range(1, num_maskmem):
            t = frame + step * (num_maskmem - t_pos)
            if t in self.non_cond and self.non_cond[t].has_features:
                spatial.append((t, False, t_pos))
        max_ptrs = min(num_frames, max_ptrs)
        sign = -1 if reverse else 1
        pointers = []
        for t in self.cond:  # only conditioning frames in the past
            if (t >= frame) if reverse else (t <= frame):
                dist = (frame - t) * sign if signed_ptr_distance else abs(frame - t)
                pointers.append((t, True, dist))
        for dist in range(1, max_ptrs):
            t = frame + step * dist
            if t < 0 or t >= num_frames:
                break
            if t in self.non_cond:
                pointers.append((t, False, dist))
        return spatial, pointers, max(max_ptrs - 1, 1)

    def pointer(self, frame: int, cond: bool) -> torch.Tensor:
        return (self.cond if cond else self.non_cond)[frame].obj_ptr

    def signature(self, spatial: list, pointers: list) -> tuple:
        """Objects with equal signatures can be batched through memory attention."""
        return tuple(t_pos for _, _, t_pos in spatial), tuple(d for _, _, d in pointers)
