"""SAM 2 composed from its parts, with the four steps the engine calls.

1. ``encode_image``: frame -> multi-scale features (cacheable per frame).
2. ``condition``: fuse the frame's features with a memory prompt (or mark
   it as a frame without memory).
3. ``segment`` / ``mask_as_output``: prompt encoder + mask decoder ->
   mask logits, object pointer and object score.
4. ``encode_memory``: features + predicted mask -> a memory for later frames.

Which memories a frame sees is the engine's business (the memory bank);
this module only does the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from napari_sam2.model.blocks import MLP
from napari_sam2.model.config import SAM2Config
from napari_sam2.model.fpn import ImageEncoder
from napari_sam2.model.mask_decoder import DecoderOutput, MaskDecoder, select_output
from napari_sam2.model.memory_attention import MemoryAttention
from napari_sam2.model.memory_encoder import MemoryEncoder
from napari_sam2.model.position_encoding import sine_1d, sine_position_map
from napari_sam2.model.precision import cast_matmul_weights, in_compute_dtype
from napari_sam2.model.prompt_encoder import PromptEncoder

NO_OBJ_SCORE = -1024.0  # logit written where the object is predicted absent

@dataclass
class ImageFeatures:
    """Encoder output of a batch of frames."""

    embed: torch.Tensor  # (B, C, h, w) the coarsest level used by the decoder
    high_res: tuple[torch.Tensor, torch.Tensor]  # (B, C/8, 4h, 4w), (B, C/4, 2h, 2w)

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {"embed": self.embed, "high_res_0": self.high_res[0], "high_res_1": self.high_res[1]}

    @classmethod
    def from_dict(cls, d: dict[str, torch.Tensor]) -> ImageFeatures:
        return cls(d["embed"], (d["high_res_0"], d["high_res_1"]))

    def expand(self, batch: int) -> ImageFeatures:
        return ImageFeatures(
            self.embed.expand(batch, -1, -1, -1),
            tuple(x.expand(batch, -1, -1, -1) for x in self.high_res),  # type: ignore[arg-type]
        )


@dataclass
class SegmentOutput:
    """What one segmentation step gives, per object (batch row)."""

    candidates: torch.Tensor  # (B, M, 4h, 4w) all returned mask logits
    ious: torch.Tensor  # (B, M)
    masks: torch.Tensor  # (B, 1, 4h, 4w) the chosen mask logits
    obj_ptr: torch.Tensor  # (B, C)
    object_score_logits: torch.Tensor  # (B, 1)
    candidate_ptrs: torch.Tensor | None = None  # (B, M, C) pointer of each candidate
    # The decoder's candidate logits before the occlusion rule wrote NO_OBJ_SCORE
    # over absent objects: what the training losses compare with the truth.
    raw_candidates: torch.Tensor | None = None  # (B, M, 4h, 4w)


@dataclass
class MemoryPrompt:
    """The memories one frame attends to (same structure for each batch row)."""

    spatial: list[tuple[torch.Tensor, int]]  # (features (B, mem_dim, h, w), t_pos 0..num_maskmem-1)
    pointers: list[tuple[torch.Tensor, int]]  # (obj_ptr (B, C), signed temporal distance)
    max_ptr_distance: int  # distances are normalised by this
    # Long-stack mode: a key scale per memory frame then per pointer, (B, S + P).
    key_weights: torch.Tensor | None = None
    # Keys formed earlier (the engine caches them; used without key_weights): per
    # spatial memory, per attention layer, SAM2Model.memory_keys of its features,
    # and SAM2Model.memory_key_offsets of its t_pos.
    spatial_keys: list[list[torch.Tensor]] | None = None
    key_offsets: list[list[torch.Tensor]] | None = None


class SAM2Model(nn.Module):
    def __init__(self, cfg: SAM2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.compute_dtype = torch.float32  # see use_compute_dtype
        c, m = cfg.d_model, cfg.mem_dim
        # Registration order gives the official checkpoints' key order.
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(cfg.num_maskmem, 1, 1, m))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, c))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, c))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, c))
        if cfg.no_obj_embed_spatial:
            self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, m))
        else:
            self.no_obj_embed_spatial = None
        self.image_encoder = ImageEncoder(cfg)
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.memory_attention = MemoryAttention(
            c, m, cfg.memory_attention_layers, cfg.memory_attention_ffn_dim
        )
        self.memory_encoder = MemoryEncoder(c, m)
        self.sam_prompt_encoder = PromptEncoder(c, cfg.image_size, cfg.feature_size)
        self.sam_mask_decoder = MaskDecoder(
            c, mlp_dim=cfg.decoder_mlp_dim, num_heads=cfg.decoder_heads
        )
        self.obj_ptr_proj = MLP(c, c, c, 3)
        if cfg.proj_tpos_enc_in_obj_ptrs:
            self.obj_ptr_tpos_proj = nn.Linear(c, m)
        else:
            self.obj_ptr_tpos_proj = nn.Identity()

    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    def use_compute_dtype(self, dtype: torch.dtype) -> None:
        """Compute in ``dtype`` (float32 or bfloat16) from now on.

        For bfloat16 the weights of linear and convolution layers are cast
        once, here: autocast would cast them identically on every call, and
        those ~1,000 casts a frame made propagation CPU-bound. Norms and the
        other parameters stay float32, as under autocast. Casting back would
        lose precision, so a bfloat16 model cannot return to float32.
        """
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"compute dtype must be float32 or bfloat16, got {dtype}")
        if dtype == self.compute_dtype:
            return
        if self.compute_dtype != torch.float32:
            raise ValueError(
                "this model's weights were cast to bfloat16; load it again to compute in float32"
            )
        cast_matmul_weights(self, dtype)
        self.compute_dtype = dtype

    # 1. image encoding -------------------------------------------------------
    @in_compute_dtype
    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        """``(B, 3, S, S)`` normalised images -> features."""
        s0, s1, embed = self.image_encoder(images)
        dec = self.sam_mask_decoder
        return ImageFeatures(embed, (dec.conv_s0(s0), dec.conv_s1(s1)))

    # 2. memory conditioning --------------------------------------------------
    @in_compute_dtype
    def condition(self, feats: ImageFeatures, memory: MemoryPrompt | None) -> torch.Tensor:
        """The decoder's image embedding ``(B, C, h, w)``, conditioned on ``memory``.

        ``None`` means a frame without memory (a first prompted frame): SAM 2
        then just adds a learned "no memory" embedding.
        """
        embed = feats.embed
        b, c, h, w = embed.shape
        if memory is None:
            return embed + self.no_mem_embed.view(1, c, 1, 1)
        current = embed.flatten(2).transpose(1, 2)
        current_pos = sine_position_map(c, h, w, embed.device).flatten(2).transpose(1, 2)
        mem_pos_map = sine_position_map(self.cfg.mem_dim, h, w, embed.device)
        mem_pos_map = mem_pos_map.flatten(2).transpose(1, 2)

        tokens, pos = [], []
        for feat, t_pos in memory.spatial:
            tokens.append(feat.flatten(2).transpose(1, 2))
            tpos = self.maskmem_tpos_enc[self.cfg.num_maskmem - t_pos - 1].view(1, 1, -1)
            pos.append((mem_pos_map + tpos).expand(b, -1, -1))
        num_ptr_tokens = 0
        ptr_inputs = None
        if memory.pointers:
            ptr_tokens, ptr_pos = self._pointer_tokens(memory, b)
            tokens.append(ptr_tokens)
            pos.append(ptr_pos)
            num_ptr_tokens = ptr_tokens.shape[1]
            ptr_inputs = ptr_tokens + ptr_pos
        if memory.spatial_keys and memory.key_weights is None:
            layer_keys = self.memory_attention.assemble_keys(
                memory.spatial_keys, memory.key_offsets, ptr_inputs
            )
            out = self.memory_attention(
                current, current_pos.expand(b, -1, -1), torch.cat(tokens, 1), None,
                num_ptr_tokens, layer_keys=layer_keys,
            )
            return out.transpose(1, 2).reshape(b, c, h, w)
        key_scale = None
        if memory.key_weights is not None:
            # One weight per memory frame (h*w tokens) and per pointer (its split tokens).
            sizes = [t.shape[1] for t in tokens[: len(memory.spatial)]]
            if memory.pointers:
                sizes += [num_ptr_tokens // len(memory.pointers)] * len(memory.pointers)
            repeats = torch.tensor(sizes, device=embed.device)
            key_scale = memory.key_weights.to(embed.device).repeat_interleave(repeats, dim=1)
        out = self.memory_attention(
            current,
            current_pos.expand(b, -1, -1),
            torch.cat(tokens, 1),
            torch.cat(pos, 1),
            num_ptr_tokens,
            key_scale,
        )
        return out.transpose(1, 2).reshape(b, c, h, w)

    @in_compute_dtype
    def memory_keys(self, features: torch.Tensor) -> list[torch.Tensor]:
        """A memory frame's keys in every memory-attention layer, ``(B, mem_dim, h, w) ->
        [(B, h*w, D)]``: they do not depend on the frame attending to them, so a
        memory used by the next six frames is projected and rotated once."""
        m, h, w = features.shape[1:]
        pos = sine_position_map(m, h, w, features.device).flatten(2).transpose(1, 2)
        return self.memory_attention.frame_keys(features.flatten(2).transpose(1, 2) + pos)

    @in_compute_dtype
    def memory_key_offsets(self, t_pos: int, h: int, w: int) -> list[torch.Tensor]:
        """What temporal position ``t_pos`` adds to a memory frame's keys, per layer
        ``[(1, h*w, D)]``."""
        # Detached: a cached value, not part of any autograd graph (training forms keys whole).
        tpos = self.maskmem_tpos_enc[self.cfg.num_maskmem - t_pos - 1].view(1, -1).detach()
        return self.memory_attention.key_offsets(tpos, h * w)

    def _pointer_tokens(self, memory: MemoryPrompt, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        c, m = cfg.d_model, cfg.mem_dim
        ptrs = torch.stack([p for p, _ in memory.pointers], dim=1)  # (B, P, C)
        n = ptrs.shape[1]
        if cfg.add_tpos_enc_to_obj_ptrs:
            dist = torch.tensor(
                [d for _, d in memory.pointers], dtype=torch.float32, device=ptrs.device
            )
            tpos_dim = c if cfg.proj_tpos_enc_in_obj_ptrs else m
            enc = self.obj_ptr_tpos_proj(sine_1d(dist / memory.max_ptr_distance, tpos_dim))
            enc = enc.unsqueeze(0).expand(b, n, m)
        else:
            enc = ptrs.new_zeros(b, n, m)
        # A C-wide pointer is split into C / mem_dim tokens of width mem_dim.
        split = c // m
        return ptrs.reshape(b, n * split, m), enc.repeat_interleave(split, dim=1)

    # 3. segmentation heads ---------------------------------------------------
    @in_compute_dtype
    def decode(
        self,
        embed: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor],
        coords: torch.Tensor,
        labels: torch.Tensor,
        mask_logits: torch.Tensor | None,
    ) -> DecoderOutput:
        """Run prompt encoder and mask decoder; all four masks.

        ``coords (B, N, 2)`` in model-input pixels, ``labels (B, N)``;
        ``mask_logits (B, 1, 4h, 4w)`` or None.
        """
        enc = self.sam_prompt_encoder
        sparse = enc.embed_points(coords, labels)
        dense = enc.embed_mask(mask_logits, coords.shape[0])
        return self.sam_mask_decoder(embed, enc.dense_pe(), sparse, dense, high_res)

    @in_compute_dtype
    def segment(
        self,
        pix_feat: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor],
        coords: torch.Tensor | None,
        labels: torch.Tensor | None,
        mask_logits: torch.Tensor | None,
        multimask: bool,
    ) -> SegmentOutput:
        """Segment on a (memory-conditioned) embedding, with occlusion handling."""
        b = pix_feat.shape[0]
        if coords is None:  # no clicks: a single padding point
            coords = pix_feat.new_zeros(b, 1, 2)
            labels = torch.full((b, 1), -1, dtype=torch.int32, device=pix_feat.device)
        if mask_logits is not None:
            mask_logits = self._resize_mask_prompt(mask_logits)
        cfg = self.cfg
        # The fallback from an unstable single mask to the best candidate is an
        # inference rule: in training the reference always returns (and trains)
        # the single-mask output.
        thresh = float("-inf") if self.training else cfg.dynamic_multimask_stability_thresh
        out = select_output(
            self.decode(pix_feat, high_res, coords, labels, mask_logits),
            multimask,
            cfg.dynamic_multimask_stability_delta,
            thresh,
        )
        visible = out.object_score_logits > 0
        candidates = torch.where(visible[:, :, None, None], out.masks, NO_OBJ_SCORE).float()
        best = (
            out.ious.argmax(dim=-1)
            if multimask
            else torch.zeros(b, dtype=torch.long, device=pix_feat.device)
        )
        rows = torch.arange(b, device=pix_feat.device)
        vis = visible.float()[:, :, None]
        ptrs = vis * self.obj_ptr_proj(out.tokens) + (1 - vis) * self.no_obj_ptr
        return SegmentOutput(
            candidates,
            out.ious,
            candidates[rows, best].unsqueeze(1),
            ptrs[rows, best],
            out.object_score_logits,
            ptrs,
            out.masks,
        )

    def _resize_mask_prompt(self, mask: torch.Tensor) -> torch.Tensor:
        size = self.sam_prompt_encoder.mask_input_size
        if mask.shape[-2:] == (size, size):
            return mask
        return F.interpolate(
            mask.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )

    @in_compute_dtype
    def mask_as_output(self, feats: ImageFeatures, mask: torch.Tensor) -> SegmentOutput:
        """Take a given ``(B, 1, S, S)`` binary mask as the output (a mask prompt).

        The decoder still runs once on the mask to produce the object pointer.
        """
        mask = mask.float()
        high = mask * 20.0 - 10.0  # logits of +-10: probabilities ~1 and ~0
        low = F.interpolate(high, size=(high.shape[-2] // 4, high.shape[-1] // 4),
                            mode="bilinear", align_corners=False, antialias=True)
        # The reference decodes from the raw features here (no memory, no no-mem embedding).
        ptr_out = self.segment(
            feats.embed, feats.high_res, None, None, self.mask_downsample(mask), False
        )
        visible = (mask.flatten(1) > 0).any(dim=1, keepdim=True).float()
        obj_ptr = visible * ptr_out.obj_ptr + (1 - visible) * self.no_obj_ptr
        ious = mask.new_ones(mask.shape[0], 1)
        return SegmentOutput(low, ious, low, obj_ptr, 20.0 * visible - 10.0)

    # 4. memory encoding ------------------------------------------------------
    @in_compute_dtype
    def encode_memory(
        self,
        embed: torch.Tensor,
        mask_logits: torch.Tensor,
        object_score_logits: torch.Tensor,
        binarize: bool,
    ) -> torch.Tensor:
        """Memory features ``(B, mem_dim, h, w)`` of a frame and its mask.

        ``mask_logits`` are at the input size ``(B, 1, S, S)``; clicked masks
        are binarised so the memory holds exactly what the user saw.
        """
        cfg = self.cfg
        size = cfg.image_size
        if mask_logits.shape[-1] != size:
            mask_logits = F.interpolate(
                mask_logits, size=(size, size), mode="bilinear", align_corners=False
            )
        prob = (mask_logits > 0).float() if binarize else torch.sigmoid(mask_logits)
        prob = prob * cfg.sigmoid_scale_for_mem_enc + cfg.sigmoid_bias_for_mem_enc
        mem = self.memory_encoder(embed, prob)
        if self.no_obj_embed_spatial is not None:
            absent = (object_score_logits <= 0).float()[..., None, None]
            mem = mem + absent * self.no_obj_embed_spatial[..., None, None]
        return mem
