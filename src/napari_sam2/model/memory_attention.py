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

    def forward(self, x, keys, memory, num_ptr_tokens: int) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h)
        h = self.norm2(x)
        x = x + self.cross_attn_image(h, keys, memory, num_k_exclude_rope=num_ptr_tokens)
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

    def forward(
        self,
        current: torch.Tensor,
        current_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        num_ptr_tokens: int = 0,
        key_scale: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``current (B, HW, C)``, ``memory (B, M, mem_dim)`` -> ``(B, HW, C)``.

        The last ``num_ptr_tokens`` memory tokens are object pointers (no RoPE).
        ``key_scale (B, M)`` multiplies each memory token's key (SAM2Long's
        memory weighting); None leaves keys as they are.
        """
        # Position encodings go on the keys only (queries carry RoPE); the
        # keys are the same in every layer, so they are formed once.
        keys = memory + memory_pos
        if key_scale is not None:
            keys = keys * key_scale.unsqueeze(-1).to(keys.dtype)
        x = current + 0.1 * current_pos
        for layer in self.layers:
            x = layer(x, keys, memory, num_ptr_tokens)
        return self.norm(x)
