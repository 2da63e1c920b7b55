"""Memory attention: condition the current frame's features on the memory bank.

Layers (four in the official models) of (RoPE self-attention, RoPE cross-attention to memories and
object pointers, MLP), pre-norm, batch first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_sam2.model.transformer import RoPEAttention


class MemoryAttentionLayer(nn.Module):
    def __init__(self, d_model: int, mem_dim: int, dim_feedforward: int = 2048) -> None:
        super().__init__()
        self.self_attn = RoPEAttention(d_model, num_heads=1)
        self.cross_attn_image = RoPEAttention(d_model, num_heads=1, kv_in_dim=mem_dim)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(self, x, keys, memory, num_ptr_tokens: int, layer_keys=None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h)
        h = self.norm2(x)
        x = x + self.cross_attn_image(
            h, keys, memory, num_k_exclude_rope=num_ptr_tokens, keys=layer_keys
        )
        h = self.norm3(x)
        return x + self.linear2(F.relu(self.linear1(h)))


class MemoryAttention(nn.Module):
    def __init__(
        self, d_model: int, mem_dim: int, num_layers: int = 4, dim_feedforward: int = 2048
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(d_model, mem_dim, dim_feedforward) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    # -- keys of memory frames, formed once per frame (the engine caches them) ---------
    def frame_keys(self, tokens_with_pos: torch.Tensor) -> list[torch.Tensor]:
        """One memory frame's keys per layer, ``(B, HW, mem_dim) -> [(B, HW, D)]``:
        features plus spatial encoding, projected without bias, rotated."""
        return [layer.cross_attn_image.rotated_keys(tokens_with_pos, bias=False)
                for layer in self.layers]

    def key_offsets(self, tpos: torch.Tensor, num_tokens: int) -> list[torch.Tensor]:
        """What a temporal encoding ``tpos (1, mem_dim)`` adds to a frame's keys, with the
        projection's bias, per layer ``[(1, HW, D)]``: keys are linear in their input."""
        return [layer.cross_attn_image.rotated_offset(tpos, num_tokens) for layer in self.layers]

    def assemble_keys(
        self,
        frame_keys: list[list[torch.Tensor]],
        offsets: list[list[torch.Tensor]],
        pointer_inputs: torch.Tensor | None,
    ) -> list[torch.Tensor]:
        """Each layer's keys ``(B, M, D)``: per memory frame its :meth:`frame_keys` plus the
        :meth:`key_offsets` of its temporal position, then the pointers' (projected here)."""
        out = []
        for i, layer in enumerate(self.layers):
            parts = [keys[i] + off[i] for keys, off in zip(frame_keys, offsets)]
            if pointer_inputs is not None:
                parts.append(layer.cross_attn_image.k_proj(pointer_inputs))
            out.append(parts[0] if len(parts) == 1 else torch.cat(parts, 1))
        return out

    def forward(
        self,
        current: torch.Tensor,
        current_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor | None,
        num_ptr_tokens: int = 0,
        key_scale: torch.Tensor | None = None,
        layer_keys: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``current (B, HW, C)``, ``memory (B, M, mem_dim)`` -> ``(B, HW, C)``.

        The last ``num_ptr_tokens`` memory tokens are object pointers (no RoPE).
        ``key_scale (B, M)`` multiplies each memory token's key (SAM2Long's
        memory weighting); None leaves keys as they are. ``layer_keys``: each
        layer's keys ``(B, M, D)`` already formed (then ``memory_pos`` is unused).
        """
        keys = None
        if layer_keys is None:
            # Position encodings go on the keys only (queries carry RoPE); the
            # keys are the same in every layer, so they are formed once.
            keys = memory + memory_pos
            if key_scale is not None:
                keys = keys * key_scale.unsqueeze(-1).to(keys.dtype)
        x = current + 0.1 * current_pos
        for i, layer in enumerate(self.layers):
            x = layer(x, keys, memory, num_ptr_tokens,
                      None if layer_keys is None else layer_keys[i])
        return self.norm(x)
