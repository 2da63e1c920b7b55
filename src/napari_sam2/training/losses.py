"""SAM 2's training losses (Ravi et al. 2024, section 4 and appendix).

Per prediction step: focal (weight 20) + dice (weight 1) on the mask logits
against the true mask, for multimask outputs only the best of the candidates
is trained (the one with the lowest focal + dice); L1 between the predicted
IoU and the true IoU of every candidate (weight 1); binary cross-entropy of
the object score against "the object is visible" (weight 1). Mask and IoU
losses count only where the object is visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

FOCAL_ALPHA = 0.25
FOCAL_GAMMA = 2.0


@dataclass(frozen=True)
class LossWeights:
    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    object_score: float = 1.0


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sigmoid focal loss averaged over pixels: ``(B, M, H, W) -> (B, M)``."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = ce * (1 - p_t) ** FOCAL_GAMMA
    alpha_t = FOCAL_ALPHA * target + (1 - FOCAL_ALPHA) * (1 - target)
    return (alpha_t * loss).flatten(2).mean(-1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - soft dice`` per mask: ``(B, M, H, W) -> (B, M)``."""
    prob = logits.sigmoid().flatten(2)
    t = target.flatten(2)
    num = 2 * (prob * t).sum(-1)
    den = prob.sum(-1) + t.sum(-1)
    return 1 - (num + 1) / (den + 1)


def mask_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of the thresholded logits with the target: ``(B, M, H, W) -> (B, M)``."""
    pred = (logits > 0).flatten(2)
    t = target.flatten(2) > 0.5
    inter = (pred & t).sum(-1).float()
    union = (pred | t).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))


@dataclass
class StepLoss:
    total: torch.Tensor
    parts: dict[str, float]  # detached values for the log
    iou: torch.Tensor  # (B,) true IoU of the chosen mask (detached)


def step_loss(
    raw_candidates: torch.Tensor,
    pred_ious: torch.Tensor,
    object_score_logits: torch.Tensor,
    target: torch.Tensor,
    weights: LossWeights = LossWeights(),
) -> StepLoss:
    """Loss of one prediction step.

    ``raw_candidates (B, M, h, w)`` low-resolution logits (upsampled here to the
    target's size), ``pred_ious (B, M)``, ``object_score_logits (B, 1)``,
    ``target (B, H, W)`` float in [0, 1] (area fractions at a reduced size; all
    zero where the object is absent).
    """
    logits = raw_candidates.float()
    if logits.shape[-2:] != target.shape[-2:]:
        logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
    t = target.float().unsqueeze(1).expand_as(logits)
    present = (target.flatten(1).sum(-1) > 0).float()  # (B,)
    t = t.contiguous()
    focal = focal_loss(logits, t)
    dice = dice_loss(logits, t)
    combo = weights.focal * focal + weights.dice * dice  # (B, M)
    best = combo.argmin(dim=1)
    rows = torch.arange(len(best), device=best.device)
    true_iou = mask_iou(logits, t).detach()
    iou_l1 = (pred_ious.float() - true_iou).abs().mean(dim=1)  # every candidate (supervise_all_iou)
    score = F.binary_cross_entropy_with_logits(
        object_score_logits.float().reshape(-1), present, reduction="none"
    )
    n_present = present.sum().clamp(min=1.0)
    focal_b = (focal[rows, best] * present).sum() / n_present
    dice_b = (dice[rows, best] * present).sum() / n_present
    iou_b = (iou_l1 * present).sum() / n_present
    score_b = score.mean()
    total = (
        weights.focal * focal_b
        + weights.dice * dice_b
        + weights.iou * iou_b
        + weights.object_score * score_b
    )
    parts = {
        "focal": float(focal_b.detach()),
        "dice": float(dice_b.detach()),
        "iou_l1": float(iou_b.detach()),
        "score": float(score_b.detach()),
    }
    return StepLoss(total, parts, true_iou[rows, pred_ious.argmax(dim=1)])
