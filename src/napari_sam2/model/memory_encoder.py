"""Memory encoder: fuse a frame's features with its predicted mask into a memory.

The mask (as scaled probabilities) is downsampled 16x by strided convs, added
to the projected image features, refined by two ConvNeXt blocks and projected
to ``mem_dim`` channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from napari_sam2.model.blocks import LayerNorm2d


class MaskDownSampler(nn.Module):
    """Four stride-2 3x3 convs (channels x4 each) then a 1x1 projection."""

    def __init__(self, embed_dim: int = 256, total_stride: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential()
        c_in = 1
        for _ in range(int(math.log2(total_stride))):
            c_out = c_in * 4
            self.encoder.append(nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1))
            self.encoder.append(LayerNorm2d(c_out))
            self.encoder.append(nn.GELU())
            c_in = c_out
        self.encoder.append(nn.Conv2d(c_in, embed_dim, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise 7x7 conv, LayerNorm, pointwise MLP, layer scale."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)
        h = self.gamma * self.pwconv2(self.act(self.pwconv1(h)))
        return x + h.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    def __init__(self, dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CXBlock(dim) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    def __init__(self, in_dim: int = 256, out_dim: int = 64) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(in_dim)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(in_dim)
        self.out_proj = nn.Conv2d(in_dim, out_dim, kernel_size=1)

    def forward(self, pix_feat: torch.Tensor, mask_for_mem: torch.Tensor) -> torch.Tensor:
        """``pix_feat (B, C, h, w)``, ``mask_for_mem (B, 1, 16h, 16w)`` -> ``(B, out_dim, h, w)``"""
        x = self.pix_feat_proj(pix_feat) + self.mask_downsampler(mask_for_mem)
        return self.out_proj(self.fuser(x))
