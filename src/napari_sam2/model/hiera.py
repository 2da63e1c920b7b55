"""Hiera image encoder trunk (Ryali et al. 2023) as used by SAM 2.

A hierarchy of transformer stages. Most blocks attend within local windows;
a few attend globally. At each stage change the block pools its queries
2x2 (halving the resolution) and doubles the channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_sam2.model.blocks import MLP
from napari_sam2.model.config import HieraConfig
from napari_sam2.model.transformer import attention


def _pool_2x(x: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """Max-pool a channels-last ``(B, H, W, C)`` map."""
    return F.max_pool2d(x.permute(0, 3, 1, 2), stride, stride).permute(0, 2, 3, 1)


def to_windows(x: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Split ``(B, H, W, C)`` into ``(B * nW, size, size, C)`` windows, padding as needed."""
    b, h, w, c = x.shape
    pad_h, pad_w = (-h) % size, (-w) % size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // size, size, wp // size, size, c).transpose(2, 3)
    return x.reshape(-1, size, size, c), (hp, wp)


def from_windows(
    windows: torch.Tensor, size: int, padded: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`to_windows`, cropping the padding away."""
    hp, wp = padded
    b = windows.shape[0] // ((hp // size) * (wp // size))
    x = windows.reshape(b, hp // size, wp // size, size, size, -1).transpose(2, 3)
    x = x.reshape(b, hp, wp, -1)
    return x[:, : hw[0], : hw[1]]


class MultiScaleAttention(nn.Module):
    """Multi-head self-attention whose queries may be pooled (at stage changes)."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_stride=None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_stride = q_stride
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        # One permute to (3, B, heads, N, d): q, k, v become views, no copies.
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.q_stride:
            q = q.transpose(1, 2).reshape(b, h, w, -1)
            q = _pool_2x(q, self.q_stride)
            h, w = q.shape[1:3]
            q = q.reshape(b, h * w, self.num_heads, -1).transpose(1, 2)
        out = attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, h, w, -1))


class HieraBlock(nn.Module):
    """Pre-norm transformer block with windowed (``window > 0``) or global attention."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, window: int, q_stride=None) -> None:
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.window = window
        self.q_stride = q_stride
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiScaleAttention(dim, dim_out, num_heads, q_stride)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, 4 * dim_out, dim_out, 2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out:
            shortcut = self.proj(x)
            if self.q_stride:
                shortcut = _pool_2x(shortcut, self.q_stride)
        window = self.window
        if window > 0:
            hw = x.shape[1:3]
            x, padded = to_windows(x, window)
        x = self.attn(x)
        if window > 0:
            if self.q_stride:
                # Queries were pooled inside each window: windows shrank too.
                window //= self.q_stride[0]
                hw = shortcut.shape[1:3]
                padded = (hw[0] + (-hw[0]) % window, hw[1] + (-hw[1]) % window)
            x = from_windows(x, window, padded, hw)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """7x7 stride-4 convolution to channels-last tokens."""

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class Hiera(nn.Module):
    """The trunk: returns one feature map per stage, highest resolution first."""

    def __init__(self, cfg: HieraConfig) -> None:
        super().__init__()
        self.cfg = cfg
        stage_ends = [sum(cfg.stages[: i + 1]) - 1 for i in range(len(cfg.stages))]
        self.stage_ends = stage_ends
        pool_blocks = [end + 1 for end in stage_ends[:-1]][: cfg.q_pool]

        self.patch_embed = PatchEmbed(cfg.embed_dim)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, cfg.embed_dim, *cfg.window_pos_embed_bkg_spatial_size)
        )
        first_window = cfg.window_spec[0]
        self.pos_embed_window = nn.Parameter(
            torch.zeros(1, cfg.embed_dim, first_window, first_window)
        )

        dim, heads, stage = cfg.embed_dim, cfg.num_heads, 0
        self.blocks = nn.ModuleList()
        for i in range(sum(cfg.stages)):
            # The first block of a stage still uses the previous stage's window.
            window = 0 if i in cfg.global_att_blocks else cfg.window_spec[stage]
            dim_out = dim
            if i - 1 in stage_ends:
                dim_out = int(dim * cfg.dim_mul)
                heads = int(heads * cfg.head_mul)
                stage += 1
            q_stride = cfg.q_stride if i in pool_blocks else None
            self.blocks.append(HieraBlock(dim, dim_out, heads, window, q_stride))
            dim = dim_out

    def _pos_embed(self, h: int, w: int) -> torch.Tensor:
        # The bicubic interpolation costs ~0.2 s a frame on a CPU: keep it while
        # the weights and the grid size stay the same (inference).
        key = (h, w, self.pos_embed._version, self.pos_embed_window._version, self.pos_embed.device)
        if torch.is_grad_enabled() or getattr(self, "_pos_cache_key", None) != key:
            self._pos_cache = self._compute_pos_embed(h, w)
            self._pos_cache_key = key
        return self._pos_cache

    def _compute_pos_embed(self, h: int, w: int) -> torch.Tensor:
        # A global embedding interpolated to the token grid plus a window-sized one tiled.
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        win = self.pos_embed_window
        reps = (h // win.shape[-2], w // win.shape[-1])
        pos = pos + win.tile(1, 1, *reps)
        return pos.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self._pos_embed(*x.shape[1:3])
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.stage_ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
