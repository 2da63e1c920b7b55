"""The model steps of a video session, reading memories from the :class:`MemoryBank`.

``interact`` answers a prompt on one frame; ``track`` runs memory attention,
decoding and memory encoding for several objects on one frame, batched
where their memories have the same structure. The tracker writes nothing
into the bank: the session stores what it returns.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from napari_sam2.engine.key_cache import DEFAULT_KEY_CACHE_BYTES, KeyCache
from napari_sam2.engine.memory_bank import (
    Candidates,
    Direction,
    FrameMemory,
    MemoryBank,
    MemorySelection,
)
from napari_sam2.engine.prompts import MaskPrompt, PointPrompt
from napari_sam2.model.sam2 import ImageFeatures, SAM2Model, SegmentOutput


class Tracker:
    def __init__(
        self,
        model: SAM2Model,
        bank: MemoryBank,
        frame_shape: tuple[int, int],
        key_cache_bytes: int = DEFAULT_KEY_CACHE_BYTES,
    ) -> None:
        self.model = model
        self.cfg = model.cfg
        self.bank = bank
        self.frame_shape = frame_shape
        self.keys = KeyCache(model, key_cache_bytes)
        # obj_id -> ((frame, direction, bank revision), memory-conditioned embedding)
        self._conditioned: dict[int, tuple[tuple, torch.Tensor]] = {}

    def interact(
        self,
        feats: ImageFeatures,
        obj_id: int,
        frame: int,
        prompt: PointPrompt | MaskPrompt,
    ) -> tuple[FrameMemory, Candidates | None]:
        """Answer a prompt on ``frame`` for one object (no memory encoding yet)."""
        model = self.model
        device = model.device
        if isinstance(prompt, MaskPrompt):
            out = model.mask_as_output(feats, prompt.to_model(self.cfg.image_size, device))
            return FrameMemory(out.masks, out.obj_ptr, out.object_score_logits), None

        if self.bank.visited(obj_id, frame) is None:  # a first prompt on this frame: no memory
            pix = model.condition(feats, None)
        else:
            pix = self.conditioned(feats, obj_id, frame)
        # An earlier answer on this frame is fed back with the new clicks.
        prev = self.bank.latest(obj_id, frame)
        prev_logits = prev.mask_logits.clamp(-32.0, 32.0) if prev is not None else None
        coords, labels = prompt.to_model(self.frame_shape, self.cfg.image_size, device)
        multimask = (
            self.cfg.multimask_min_pt_num <= prompt.num_points <= self.cfg.multimask_max_pt_num
        )
        out = model.segment(pix, feats.high_res, coords, labels, prev_logits, multimask)
        mem = FrameMemory(out.masks, out.obj_ptr, out.object_score_logits,
                          iou=chosen_iou(out, 0, multimask))
        cands = None
        if multimask:
            cands = Candidates(
                out.candidates[0],
                out.ious[0],
                out.candidate_ptrs[0],
                out.object_score_logits,
                int(out.ious[0].argmax()),
            )
        return mem, cands

    def conditioned(self, feats: ImageFeatures, obj_id: int, frame: int) -> torch.Tensor:
        """The memory-conditioned embedding of a tracked frame being refined.

        Until the bank's memories of the object change, the second and later
        clicks on a frame reuse it instead of running memory attention (most
        of a click's cost) again.
        """
        direction = self.bank.visited(obj_id, frame)
        key = (frame, direction, self.bank.revision(obj_id))
        cached = self._conditioned.get(obj_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        memory = self._gather([self.bank.select(obj_id, frame, direction)])
        pix = self.model.condition(feats, memory)
        self._conditioned[obj_id] = (key, pix)
        return pix

    def forget(self, obj_id: int | None = None) -> None:
        """Drop cached conditioned embeddings (of one object, or all)."""
        if obj_id is None:
            self._conditioned.clear()
        else:
            self._conditioned.pop(obj_id, None)

    def encode_prompted(self, feats: ImageFeatures, mem: FrameMemory) -> FrameMemory:
        """Memory of a prompted frame: from its shown mask, binarised."""
        features = self.model.encode_memory(
            feats.embed, mem.mask_logits, mem.object_score, binarize=True
        )
        return FrameMemory(mem.mask_logits, mem.obj_ptr, mem.object_score, features, mem.iou)

    def track(
        self, feats: ImageFeatures, obj_ids: list[int], frame: int, direction: Direction
    ) -> list[FrameMemory]:
        """Segment ``frame`` for each object from its memories and encode the new memories."""
        selections = [self.bank.select(obj_id, frame, direction) for obj_id in obj_ids]
        results: list[FrameMemory | None] = [None] * len(obj_ids)
        for members in group_by_structure(selections):
            batch = [selections[i] for i in members]
            out = self.decode(feats, batch)
            features = self.encode(feats, out.masks, out.object_score_logits)
            for row, i in enumerate(members):
                results[i] = FrameMemory(
                    out.masks[row : row + 1],
                    out.obj_ptr[row : row + 1],
                    out.object_score_logits[row : row + 1],
                    features[row : row + 1],
                    chosen_iou(out, row),
                )
        return results  # type: ignore[return-value]

    def decode(
        self,
        feats: ImageFeatures,
        selections: list[MemorySelection],
        key_weights: torch.Tensor | None = None,
    ) -> SegmentOutput:
        """Memory attention and the decoder for selections of one structure, as one batch.

        Tracking always asks for the three candidates (the best is ``masks``).
        """
        memory = self._gather(selections, cached_keys=key_weights is None)
        memory.key_weights = key_weights
        batch_feats = feats.expand(len(selections))
        pix = self.model.condition(batch_feats, memory)
        return self.model.segment(pix, batch_feats.high_res, None, None, None, multimask=True)

    def _gather(self, selections: list[MemorySelection], cached_keys: bool = True):
        """The batched memories, with their keys from the cache (not under key weights,
        which scale keys before their projection)."""
        if not (cached_keys and self.keys.enabled):
            return self.bank.gather(selections)
        memory = self.bank.gather(selections, keys=self.keys.frame_keys)
        h, w = (memory.spatial[0][0].shape[-2:] if memory.spatial else (0, 0))
        memory.key_offsets = [self.keys.offsets(t_pos, h, w) for _, t_pos in memory.spatial]
        return memory

    def encode(
        self, feats: ImageFeatures, masks: torch.Tensor, object_scores: torch.Tensor
    ) -> torch.Tensor:
        """Memory features of tracked masks ``(B, 1, h, w)`` on this frame (not binarised)."""
        return self.model.encode_memory(
            feats.expand(masks.shape[0]).embed, masks, object_scores, binarize=False
        )


def chosen_iou(out: SegmentOutput, row: int, multimask: bool = True) -> float:
    """The predicted IoU of the mask ``segment`` chose for batch row ``row``."""
    ious = out.ious[row].float()
    return float(ious.max() if multimask else ious[0])


def group_by_structure(selections: list[MemorySelection]) -> list[list[int]]:
    """Indices of selections that can share one batch, grouped."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, sel in enumerate(selections):
        groups[sel.structure].append(i)
    return list(groups.values())
