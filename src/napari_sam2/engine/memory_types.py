"""The typed values of a video session's memory: directions, kinds, memories, selections.

Shared by the memory bank (which stores and selects them), the tracker (which
computes them) and the long-stack mode (which selects differently).
"""

from __future__ import annotations

import enum
from collections.abc import Container, Iterable
from dataclasses import dataclass

import torch

from napari_sam2.model.config import SAM2Config


class Direction(enum.Enum):
    """The direction of travel of a propagation."""

    FORWARD = 1
    BACKWARD = -1

    @classmethod
    def of(cls, reverse: bool) -> Direction:
        return cls.BACKWARD if reverse else cls.FORWARD

    @property
    def reverse(self) -> bool:
        return self is Direction.BACKWARD


class MemoryKind(enum.Enum):
    CONDITIONING = "conditioning"  # a prompted frame: always attended to
    TRACKED = "tracked"  # a frame propagation reached: attended to while recent


@dataclass
class FrameMemory:
    """One object's output on one frame."""

    mask_logits: torch.Tensor  # (1, 1, h, w) low-resolution logits
    obj_ptr: torch.Tensor  # (1, C)
    object_score: torch.Tensor  # (1, 1)
    features: torch.Tensor | None = None  # (1, mem_dim, h', w'); None until encoded
    iou: float | None = None  # the decoder's predicted IoU of the chosen mask (None: unknown)


@dataclass
class Candidates:
    """The multimask answer to a single click, for choosing another candidate."""

    mask_logits: torch.Tensor  # (M, h, w)
    ious: torch.Tensor  # (M,)
    obj_ptrs: torch.Tensor  # (M, C)
    object_score: torch.Tensor  # (1, 1)
    chosen: int

    def memory(self, index: int) -> FrameMemory:
        return FrameMemory(
            self.mask_logits[index][None, None], self.obj_ptrs[index][None], self.object_score,
            iou=float(self.ious[index]),
        )


@dataclass(frozen=True)
class MemoryRules:
    """SAM 2's memory settings for a stack of ``num_frames`` frames."""

    num_frames: int
    num_maskmem: int = 7  # slot 0 for conditioning frames + 6 recent tracked frames
    max_obj_ptrs: int = 16
    signed_pointer_distance: bool = True  # SAM 2.1; SAM 2 uses |distance|

    @classmethod
    def from_config(cls, cfg: SAM2Config, num_frames: int) -> MemoryRules:
        return cls(
            num_frames,
            cfg.num_maskmem,
            cfg.max_obj_ptrs_in_encoder,
            cfg.use_signed_tpos_enc_to_obj_ptrs,
        )


@dataclass(frozen=True)
class SpatialSlot:
    """A memory frame attended to: ``t_pos`` 0 for conditioning, 1..6 for recent (6 nearest)."""

    frame: int
    kind: MemoryKind
    t_pos: int


@dataclass(frozen=True)
class PointerSlot:
    """An object pointer attended to, at its temporal ``distance`` from the frame."""

    frame: int
    kind: MemoryKind
    distance: int


@dataclass(frozen=True)
class MemorySelection:
    """The memories one object's ``frame`` attends to, travelling in ``direction``."""

    obj_id: int
    frame: int
    direction: Direction
    spatial: tuple[SpatialSlot, ...]
    pointers: tuple[PointerSlot, ...]
    max_distance: int  # normaliser of pointer distances

    @property
    def structure(self) -> tuple:
        """Selections with equal structure go through memory attention as one batch."""
        return tuple(s.t_pos for s in self.spatial), tuple(p.distance for p in self.pointers)


def select_memories(
    rules: MemoryRules,
    obj_id: int,
    frame: int,
    direction: Direction,
    conditioning: Iterable[int],
    tracked_features: Container[int],
    tracked: Container[int],
) -> MemorySelection:
    """Which memories ``frame`` attends to, as SAM 2's video predictor picks them.

    Every ``conditioning`` frame (slot 0); the tracked frames 1..6 steps back in
    the direction of travel (slot 6 the nearest) that have ``tracked_features``;
    object pointers of conditioning frames in the past at their (signed, for
    SAM 2.1) distance, then of ``tracked`` frames 1..15 steps back. The one
    rule for inference (:meth:`MemoryBank.select`) and training clips.
    """
    back = -direction.value  # one step into "the past"
    conditioning = list(conditioning)
    spatial = [SpatialSlot(t, MemoryKind.CONDITIONING, 0) for t in conditioning]
    for t_pos in range(1, rules.num_maskmem):
        t = frame + back * (rules.num_maskmem - t_pos)
        if t in tracked_features:
            spatial.append(SpatialSlot(t, MemoryKind.TRACKED, t_pos))
    max_ptrs = min(rules.num_frames, rules.max_obj_ptrs)
    pointers = []
    for t in conditioning:
        if (t - frame) * back >= 0:  # the prompted frame itself or its past
            dist = (frame - t) * direction.value
            pointers.append(
                PointerSlot(
                    t, MemoryKind.CONDITIONING, dist if rules.signed_pointer_distance else abs(dist)
                )
            )
    for dist in range(1, max_ptrs):
        t = frame + back * dist
        if not 0 <= t < rules.num_frames:
            break
        if t in tracked:
            pointers.append(PointerSlot(t, MemoryKind.TRACKED, dist))
    return MemorySelection(
        obj_id, frame, direction, tuple(spatial), tuple(pointers), max(max_ptrs - 1, 1)
    )
