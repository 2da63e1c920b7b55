"""FPN neck and the full image encoder (Hiera trunk + neck).

The neck projects each trunk stage to ``d_model`` channels and adds
top-down features (nearest-neighbour upsampled) only on the two coarsest
levels, as SAM 2 does; the finest levels keep their lateral features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_sam2.model.config import SAM2Config
from napari_sam2.model.hiera import Hiera


class FpnNeck(nn.Module):
    def __init__(self, d_model: int, channel_list: tuple[int, ...], top_down_levels) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        for dim in channel_list:  # lowest resolution first
            lateral = nn.Sequential()
            lateral.add_module("conv", nn.Conv2d(dim, d_model, kernel_size=1))
            self.convs.append(lateral)
        self.top_down_levels = set(top_down_levels)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """Trunk features (highest resolution first) -> neck features, same order."""
        n = len(feats) - 1
        out: list[torch.Tensor] = [None] * len(feats)  # type: ignore[list-item]
        prev = None
        for level in range(n, -1, -1):
            lateral = self.convs[n - level](feats[level])
            if level in self.top_down_levels and prev is not None:
                top_down = F.interpolate(prev.float(), scale_factor=2.0, mode="nearest")
                prev = lateral + top_down
            else:
                prev = lateral
            out[level] = prev
        return out


class ImageEncoder(nn.Module):
    """Image -> multi-scale features; the coarsest ``scalp`` levels are dropped."""

    def __init__(self, cfg: SAM2Config) -> None:
        super().__init__()
        self.trunk = Hiera(cfg.hiera)
        self.neck = FpnNeck(cfg.d_model, cfg.hiera.channel_list, cfg.fpn_top_down_levels)
        self.scalp = cfg.scalp

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        feats = self.neck(self.trunk(images))
        return feats[: len(feats) - self.scalp] if self.scalp else feats
