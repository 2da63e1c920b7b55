"""Attention layers and the two-way transformer of the mask decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_sam2.model.blocks import MLP
from napari_sam2.model.position_encoding import apply_rope, axial_rope
from napari_sam2.model.precision import cpu_bfloat16_attention


class Attention(nn.Module):
    """Multi-head attention that may project to a smaller internal width."""

    def __init__(
        self, dim: int, num_heads: int, downsample_rate: int = 1, kv_in_dim: int | None = None
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        internal = dim // downsample_rate
        kv_dim = kv_in_dim or dim
        self.q_proj = nn.Linear(dim, internal)
        self.k_proj = nn.Linear(kv_dim, internal)
        self.v_proj = nn.Linear(kv_dim, internal)
        self.out_proj = nn.Linear(internal, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def _attend(self, q, k, v) -> torch.Tensor:
        out = attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).flatten(2))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k, v = (
            self._heads(self.q_proj(q)),
            self._heads(self.k_proj(k)),
            self._heads(self.v_proj(v)),
        )
        return self._attend(q, k, v)


_CHUNK_BYTES = 128 * 2**20


def _cpu_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention on the CPU for tens of thousands of keys (the memory bank).

    Plain matmuls over query chunks of ~128 MiB of scores beat the fused
    kernel by about a quarter here, and accept values narrower than the keys;
    normalising after ``exp @ V`` saves a pass over the scores.
    """
    scores_per_row = k.shape[-2] * q.shape[:-2].numel() * q.element_size()
    rows = max(1, _CHUNK_BYTES // scores_per_row)
    q = q * q.shape[-1] ** -0.5
    k_t = k.transpose(-1, -2)
    chunks = []
    # In-place steps save memory at inference; autograd (training) needs the
    # out-of-place ones, which compute the same values.
    needs_grad = q.requires_grad or k.requires_grad or v.requires_grad
    inplace = not (torch.is_grad_enabled() and needs_grad)
    for q_rows in q.split(rows, dim=-2):
        scores = torch.matmul(q_rows, k_t)
        if inplace:
            weights = scores.sub_(scores.amax(-1, keepdim=True)).exp_()
            chunks.append(torch.matmul(weights, v).div_(weights.sum(-1, keepdim=True)))
        else:
            weights = (scores - scores.amax(-1, keepdim=True)).exp()
            chunks.append(torch.matmul(weights, v) / weights.sum(-1, keepdim=True))
    return torch.cat(chunks, dim=-2)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention: the fused kernel, or matmuls for bfloat16 on a CPU
    (where the fused kernel is no faster than float32)."""
    if cpu_bfloat16_attention(q):
        return _cpu_attention(q, k, v)
    return F.scaled_dot_product_attention(q, k, v)


class RoPEAttention(Attention):
    """Attention with 2-D axial rotary position encoding on queries and keys.

    Keys may hold several frames' worth of tokens (memories); the same
    rotation repeats for each. The last ``num_k_exclude_rope`` keys (object
    pointers) are not rotated.
    """

    def __init__(self, *args, rope_theta: float = 10000.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rope_theta = rope_theta

    def _rope(self, num_tokens: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        head_dim = self.q_proj.out_features // self.num_heads
        return axial_rope(head_dim, num_tokens, self.rope_theta, device)

    def rotated_keys(self, k: torch.Tensor, bias: bool = True) -> torch.Tensor:
        """``k (B, N, kv_dim)`` (one frame's tokens) projected and rotated: ``(B, N, internal)``.

        Without ``bias`` the key projection's bias is left out: a memory
        frame's keys are then cached, the bias and its temporal encoding
        added per use (:meth:`rotated_offset`); rotations are linear.
        """
        k = F.linear(k, self.k_proj.weight, self.k_proj.bias if bias else None)
        cos, sin = self._rope(k.shape[-2], k.device)
        return self._merge(apply_rope(self._heads(k), cos, sin))

    def rotated_offset(self, offset: torch.Tensor, num_tokens: int) -> torch.Tensor:
        """``offset (B, kv_dim)`` added to every key input: its projection plus the bias,
        rotated per position, ``(B, num_tokens, internal)``."""
        k = self.k_proj(offset)[:, None].expand(-1, num_tokens, -1)
        cos, sin = self._rope(num_tokens, k.device)
        return self._merge(apply_rope(self._heads(k), cos, sin))

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).flatten(2)

    def forward(
        self, q, k, v, num_k_exclude_rope: int = 0, keys: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``keys (B, M, internal)``: the keys already projected and rotated (``k`` unused)."""
        q = self._heads(self.q_proj(q))
        cos, sin = self._rope(q.shape[-2], q.device)
        q = apply_rope(q, cos, sin)
        if keys is not None:
            k = self._heads(keys)
        else:
            k = self._heads(self.k_proj(k))
            n_rope = k.shape[-2] - num_k_exclude_rope
            if n_rope > 0:
                k = torch.cat([apply_rope(k[:, :, :n_rope], cos, sin), k[:, :, n_rope:]], dim=2)
        narrow_values = v.shape[-1] < self.v_proj.out_features
        if cpu_bfloat16_attention(q) and self.num_heads == 1 and narrow_values:
            # Softmax rows sum to one, so attending to the raw values and
            # projecting afterwards is the same affine map; with 64-wide
            # memories and 256-wide attention it saves 3/4 of the A @ V FLOPs.
            # Only for bfloat16 matmuls on a CPU: in float32 the fused kernel
            # with projected values is faster (3.8 s against 4.6 s a frame of
            # seven memories, tiny at 1024, torch 2.13), and GPUs keep it too.
            out = _cpu_attention(q, k, v.unsqueeze(1)).squeeze(1)
            return self.out_proj(self.v_proj(out))
        return self._attend(q, k, self._heads(self.v_proj(v)))


class TwoWayBlock(nn.Module):
    """Tokens attend to themselves and to the image; the image attends back to the tokens."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, skip_first_pe: bool) -> None:
        super().__init__()
        self.self_attn = Attention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = Attention(dim, num_heads, downsample_rate=2)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_dim, dim, 2)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = Attention(dim, num_heads, downsample_rate=2)
        self.skip_first_pe = skip_first_pe

    def forward(self, queries, keys, query_pe, key_pe):
        if self.skip_first_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)

        q, k = queries + query_pe, keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q, k, keys))
        queries = self.norm3(queries + self.mlp(queries))

        q, k = queries + query_pe, keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    def __init__(self, dim: int = 256, depth: int = 2, num_heads: int = 8, mlp_dim: int = 2048):
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayBlock(dim, num_heads, mlp_dim, skip_first_pe=(i == 0)) for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(dim, num_heads, downsample_rate=2)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(self, image: torch.Tensor, image_pe: torch.Tensor, tokens: torch.Tensor):
        """image, image_pe: ``(B, C, h, w)``; tokens ``(B, N, C)`` -> (tokens, image tokens)."""
        keys = image.flatten(2).transpose(1, 2)
        key_pe = image_pe.flatten(2).transpose(1, 2)
        queries = tokens
        for layer in self.layers:
            queries, keys = layer(queries, keys, tokens, key_pe)
        attn = self.final_attn_token_to_image(queries + tokens, keys + key_pe, keys)
        return self.norm_final_attn(queries + attn), keys
