"""The model steps of a video session, on typed per-object state.

``interact`` answers a prompt on one frame; ``track`` runs memory attention,
decoding and memory encoding for several objects on one frame, batched
where their memories have the same structure.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from napari_sam2.engine.memory_bank import Candidates, FrameMemory, ObjectTrack
from napari_sam2.engine.prompts import MaskPrompt, PointPrompt
from napari_sam2.model.sam2 import ImageFeatures, MemoryPrompt, SAM2Model, SegmentOutput


class Tracker:
    def __init__(self, model: SAM2Model, num_frames: int, frame_shape: tuple[int, int]) -> None:
        self.model = model
        self.cfg = model.cfg
        self.num_frames = num_frames
        self.frame_shape = frame_shape

    def _select(self, track: ObjectTrack, frame: int, reverse: bool):
        cfg = self.cfg
        return track.select(frame, reverse, self.num_frames, cfg.num_maskmem,
                            cfg.max_obj_ptrs_in_encoder, cfg.use_signed_tpos_enc_to_obj_ptrs)

    def memory_prompt(self, tracks: list[ObjectTrack], frame: int, reverse: bool) -> MemoryPrompt:
        """Memories of ``frame`` for tracks that share one memory structure, batched."""
        selections = [self._select(t, frame, reverse) for t in tracks]
        spatial_rows = [[(t.get(f, c).features, tp) for f, c, tp in sel[0]] for t, sel in zip(tracks, selections)]
        spatial = [
            (torch.cat([row[i][0] for row in spatial_rows]), spatial_rows[0][i][1])
            for i in range(len(spatial_rows[0]))
        ]
        pointer_rows = [[(t.pointer(f, c), d) for f, c, d in sel[1]] for t, sel in zip(tracks, selections)]
        pointers = [
            (torch.cat([row[i][0] for row in pointer_rows]), pointer_rows[0][i][1])
            for i in range(len(pointer_rows[0]))
        ]
        return MemoryPrompt(spatial, pointers, selections[0][2])

    def interact(
        self,
        feats: ImageFeatures,
        track: ObjectTrack,
        frame: int,
        prompt: PointPrompt | MaskPrompt,
    ) -> tuple[FrameMemory, Candidates | None]:
        """Answer a prompt on ``frame`` for one object (no memory encoding yet)."""
        model = self.model
        device = model.device
        if isinstance(prompt, MaskPrompt):
            out = model.mask_as_output(feats, prompt.to_model(self.cfg.image_size, device))
            return FrameMemory(out.masks, out.obj_ptr, out.object_score_logits), None

        if frame not in track.tracked:  # a first prompt on this frame: no memory
            pix = model.condition(feats, None)
        else:
            pix = self.conditioned(feats, track, frame)
        # An earlier answer on this frame is fed back with the new clicks.
        prev = track.latest(frame)
        prev_logits = prev.mask_logits.clamp(-32.0, 32.0) if prev is not None else None
        coords, labels = prompt.to_model(self.frame_shape, self.cfg.image_size, device)
        multimask = self.cfg.multimask_min_pt_num <= prompt.num_points <= self.cfg.multimask_max_pt_num
        out = model.segment(pix, feats.high_res, coords, labels, prev_logits, multimask)
        mem = FrameMemory(out.masks, out.obj_ptr, out.object_score_logits)
        cands = None
        if multimask:
            cands = Candidates(out.candidates[0], out.ious[0], out.candidate_ptrs[0],
                               out.object_score_logits, int(out.ious[0].argmax()))
        return mem, cands

    def conditioned(self, feats: ImageFeatures, track: ObjectTrack, frame: int) -> torch.Tensor:
        """The memory-conditioned embedding of a tracked frame being refined.

        Until the next propagation the memories it attends to do not change, so
        the second and later clicks on a frame reuse it instead of running
        memory attention (most of a click's cost) again.
        """
        reverse = track.tracked[frame]
        key = (frame, reverse, track.revision)
        if track.conditioned is not None and track.conditioned[0] == key:
            return track.conditioned[1]
        pix = self.model.condition(feats, self.memory_prompt([track], frame, reverse))
        track.conditioned = (key, pix)
        return pix

    def encode_clicked(self, feats: ImageFeatures, mem: FrameMemory) -> FrameMemory:
        """Memory of a prompted frame: from its shown mask, binarised."""
        features = self.model.encode_memory(feats.embed, mem.mask_logits, mem.object_score, binarize=True)
        return FrameMemory(mem.mask_logits, mem.obj_ptr, mem.object_score, features)

    def track(self, feats: ImageFeatures, tracks: list[ObjectTrack], frame: int, reverse: bool) -> list[FrameMemory]:
        """Segment ``frame`` for each track from its memories and encode the new memories."""
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, t in enumerate(tracks):
            spatial, pointers, _ = self._select(t, frame, reverse)
            groups[t.signature(spatial, pointers)].append(i)
        results: list[FrameMemory | None] = [None] * len(tracks)
        for members in groups.values():
            group = [tracks[i] for i in members]
            out = self._track_batch(feats, group, frame, reverse)
            for row, i in enumerate(members):
                results[i] = FrameMemory(
                    out[0][row : row + 1], out[1][row : row + 1], out[2][row : row + 1], out[3][row : row + 1]
                )
        return results  # type: ignore[return-value]

    def _track_batch(self, feats, group, frame, reverse):
        model = self.model
        batch_feats = feats.expand(len(group))
        pix = model.condition(batch_feats, self.memory_prompt(group, frame, reverse))
        # Tracking always asks for the three candidates and keeps the best.
        out: SegmentOutput = model.segment(pix, batch_feats.high_res, None, None, None, multimask=True)
        features = model.encode_memory(batch_feats.embed, out.masks, out.object_score_logits, binarize=False)
        return out.masks, out.obj_ptr, out.object_score_logits, features
