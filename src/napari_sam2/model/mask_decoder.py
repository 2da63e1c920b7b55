"""Mask decoder: a two-way transformer over prompt tokens and image features.

Outputs one single-object mask plus three multimask candidates, their
predicted IoUs, the output tokens (used as object pointers), and an
object-score logit (is the object visible at all?).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from napari_sam2.model.blocks import MLP, LayerNorm2d
from napari_sam2.model.transformer import TwoWayTransformer


@dataclass
class DecoderOutput:
    masks: torch.Tensor  # (B, M, 4h, 4w) logits; M = 3 (multimask) or 1
    ious: torch.Tensor  # (B, M)
    tokens: torch.Tensor  # (B, M, C) the output tokens of those masks
    object_score_logits: torch.Tensor  # (B, 1)


def stability_score(logits: torch.Tensor, delta: float) -> torch.Tensor:
    """IoU between the masks thresholded at +delta and -delta."""
    flat = logits.flatten(-2)
    inter = (flat > delta).sum(-1).float()
    union = (flat > -delta).sum(-1).float()
    return torch.where(union > 0, inter / union, 1.0)


class MaskDecoder(nn.Module):
    def __init__(
        self, dim: int = 256, num_multimask: int = 3, mlp_dim: int = 2048, num_heads: int = 8
    ) -> None:
        super().__init__()
        self.num_mask_tokens = num_multimask + 1
        self.transformer = TwoWayTransformer(dim, num_heads=num_heads, mlp_dim=mlp_dim)
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)
        self.obj_score_token = nn.Embedding(1, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        # Project the trunk's high-resolution levels (done once per frame, at encoding).
        self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
        self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(dim, 256, self.num_mask_tokens, 3, sigmoid_output=True)
        self.pred_obj_score_head = MLP(dim, dim, 1, 3)

    def forward(
        self,
        image: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor],
    ) -> DecoderOutput:
        """All four masks: index 0 the single-mask output, 1..3 the candidates."""
        b = sparse.shape[0]
        out_tokens = torch.cat(
            [self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight]
        )
        tokens = torch.cat([out_tokens.unsqueeze(0).expand(b, -1, -1), sparse], dim=1)
        if image.shape[0] != b:
            image = image.expand(b, -1, -1, -1)
        src = image + dense
        pos = image_pe.expand(b, -1, -1, -1)
        _, c, h, w = src.shape

        hs, src = self.transformer(src, pos, tokens)
        mask_tokens = hs[:, 2 : 2 + self.num_mask_tokens]

        up1, norm1, act1, up2, act2 = self.output_upscaling
        feat_s0, feat_s1 = high_res
        src = src.transpose(1, 2).reshape(b, c, h, w)
        upscaled = act1(norm1(up1(src) + feat_s1))
        upscaled = act2(up2(upscaled) + feat_s0)

        hyper = torch.stack(
            [mlp(mask_tokens[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        bu, cu, hu, wu = upscaled.shape
        masks = (hyper @ upscaled.view(bu, cu, hu * wu)).view(b, -1, hu, wu)
        return DecoderOutput(
            masks=masks,
            ious=self.iou_prediction_head(hs[:, 1]),
            tokens=mask_tokens,
            object_score_logits=self.pred_obj_score_head(hs[:, 0]),
        )


def select_output(
    out: DecoderOutput, multimask: bool, stability_delta: float, stability_thresh: float
) -> DecoderOutput:
    """Pick what the caller gets from the four masks.

    With ``multimask`` the three candidates (and their tokens). Otherwise the
    single-mask output, falling back to the best candidate by predicted IoU
    when the single mask is unstable (SAM 2's dynamic multimask). The single
    mask's token is kept as object pointer in that case, as the reference does.
    """
    if multimask:
        return DecoderOutput(
            out.masks[:, 1:], out.ious[:, 1:], out.tokens[:, 1:], out.object_score_logits
        )
    single, single_iou = out.masks[:, :1], out.ious[:, :1]
    best = out.ious[:, 1:].argmax(dim=-1)
    rows = torch.arange(best.shape[0], device=best.device)
    best_mask = out.masks[:, 1:][rows, best].unsqueeze(1)
    best_iou = out.ious[:, 1:][rows, best].unsqueeze(1)
    stable = stability_score(single, stability_delta) >= stability_thresh
    masks = torch.where(stable[..., None, None], single, best_mask)
    ious = torch.where(stable, single_iou, best_iou)
    return DecoderOutput(masks, ious, out.tokens[:, :1], out.object_score_logits)
