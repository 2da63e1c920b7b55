"""Prompt encoder: points and box corners to sparse tokens, a mask to a dense map.

Point labels: 1 positive, 0 negative, 2/3 top-left/bottom-right box corner,
-1 padding ("not a point").
"""

from __future__ import annotations

import torch
from torch import nn

from napari_sam2.model.blocks import LayerNorm2d
from napari_sam2.model.position_encoding import RandomFourierEncoding


class PromptEncoder(nn.Module):
    def __init__(self, embed_dim: int, image_size: int, feature_size: int, mask_in_chans: int = 16):
        super().__init__()
        self.image_size = image_size
        self.feature_size = feature_size
        self.pe_layer = RandomFourierEncoding(embed_dim // 2)
        # Embeddings added per label: 0 negative, 1 positive, 2/3 box corners.
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_input_size = 4 * feature_size
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def dense_pe(self) -> torch.Tensor:
        """Positional encoding of the image-embedding grid, ``(1, C, h, w)``.

        Constant for given weights, so it is kept between clicks (not while training).
        """
        gauss = self.pe_layer.positional_encoding_gaussian_matrix
        key = (gauss._version, gauss.device, gauss.dtype)
        if torch.is_grad_enabled() or getattr(self, "_dense_pe_key", None) != key:
            self._dense_pe = self.pe_layer.grid(self.feature_size, self.feature_size)
            self._dense_pe_key = key
        return self._dense_pe

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``coords (B, N, 2)`` input pixels, ``labels (B, N)`` -> tokens ``(B, N + 1, C)``.

        A padding point is always appended, as SAM 2 does when no box is
        passed separately (boxes travel as labelled corner points).
        """
        b = coords.shape[0]
        coords = torch.cat([coords + 0.5, coords.new_zeros(b, 1, 2)], dim=1)  # pixel centres
        labels = torch.cat([labels, labels.new_full((b, 1), -1)], dim=1)
        emb = self.pe_layer.points(coords, self.image_size)
        lab = labels.unsqueeze(-1)
        emb = torch.where(lab == -1, self.not_a_point_embed.weight.expand_as(emb), emb)
        for value, table in enumerate(self.point_embeddings):
            emb = torch.where(lab == value, emb + table.weight, emb)
        return emb

    def embed_mask(self, mask_logits: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Dense embedding of ``(B, 1, 4h, 4w)`` mask logits, or the no-mask embedding."""
        if mask_logits is not None:
            return self.mask_downscaling(mask_logits)
        s = self.feature_size
        return self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, s, s)
