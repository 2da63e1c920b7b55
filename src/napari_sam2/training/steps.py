"""One training step on an image batch or on a clip, with the model's own memories.

Both follow SAM 2's interactive training: a first prompt, then corrective
clicks sampled from the error of the previous prediction, the previous mask
logits fed back as a mask prompt (as the engine does on a second click).
Clips are propagated frame by frame with the memories the engine would
select (:func:`forward_memory_prompt`, inference's own rule), optionally with a correction on one
tracked frame that then becomes a conditioning frame for the frames after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from napari_sam2.engine.memory_types import Direction, MemoryKind, MemoryRules, select_memories
from napari_sam2.model.config import SAM2Config
from napari_sam2.model.sam2 import ImageFeatures, MemoryPrompt, SAM2Model, SegmentOutput
from napari_sam2.training.data import ClipBatch, ImageBatch
from napari_sam2.training.losses import LossWeights, step_loss
from napari_sam2.training.prompts import PromptSet, add_corrections, first_click, noisy_box

PREV_LOGIT_CLAMP = 32.0
DEFAULT_WEIGHTS = LossWeights()  # the engine clamps a previous answer fed back as mask prompt


@dataclass(frozen=True)
class PromptRecipe:
    """How prompts are simulated."""

    p_box: float = 0.3  # first prompt a box (else a click) ...
    p_merged_box: float = (
        0.1  # ... or a box around the cell and a touching neighbour (image batches)
    )
    p_mask: float = 0.15  # ... or, on a clip's first frame, the true mask
    correction_rounds: int = 3  # at most this many corrective clicks after the first prompt (image
    # batches); each batch draws 0..correction_rounds, as SAM 2 varies the number of corrections
    merged_min_rounds: int = 0  # after a merged box at least this many (the negative click)
    # The answer to a merged box is trained against both cells (what was boxed), not the
    # one cell: a box around two cells with one cell as target taught half of each.
    merged_box_is_both: bool = False
    # The answer to the click that follows a merged box (the negative click that cuts the
    # neighbour away) weighs this many times each other answer of the step: one answer in
    # two to four, it is the one a user sees after a split.
    merged_split_weight: float = 1.0
    # Likewise the answer to the corrective click on a tracked frame of a clip: trained
    # beside the split click, it keeps what that click's weight would otherwise cost.
    tracked_correction_weight: float = 1.0
    clip_correction_rounds: int = 1  # on a clip's first frame and on one corrected tracked frame
    p_correct_tracked: float = 0.5  # a clip gets a correction on one random tracked frame
    p_long_stack: float = 0.5  # clip pretends to be in a 16-frame stack (pointer distances)


@dataclass
class StepResult:
    loss: torch.Tensor
    parts: dict[str, float] = field(default_factory=dict)
    iou: float = 0.0  # mean true IoU of the chosen masks, all outputs of the step


def forward_memory_prompt(
    cond: dict[int, tuple[torch.Tensor, torch.Tensor]],
    non_cond: dict[int, tuple[torch.Tensor, torch.Tensor]],
    frame: int,
    num_frames: int,
    cfg: SAM2Config,
) -> MemoryPrompt:
    """The memories of ``frame`` in a forward propagation: ``{frame: (features, obj_ptr)}``.

    The selection is inference's own (:func:`~napari_sam2.engine.memory_types.select_memories`);
    only the tensors differ: here they keep their gradients.
    """
    sel = select_memories(
        MemoryRules.from_config(cfg, num_frames),
        0,
        frame,
        Direction.FORWARD,
        conditioning=cond,
        tracked_features=non_cond,
        tracked=non_cond,
    )

    def memory(kind: MemoryKind, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (cond if kind is MemoryKind.CONDITIONING else non_cond)[t]

    return MemoryPrompt(
        [(memory(s.kind, s.frame)[0], s.t_pos) for s in sel.spatial],
        [(memory(p.kind, p.frame)[1], p.distance) for p in sel.pointers],
        sel.max_distance,
    )


def encode(model: SAM2Model, images: torch.Tensor, freeze_image_encoder: bool) -> ImageFeatures:
    """``model.encode_image``; with a frozen encoder the trunk and neck run without gradients."""
    if not freeze_image_encoder:
        return model.encode_image(images)
    with torch.no_grad():
        s0, s1, embed = model.image_encoder(images)
    dec = model.sam_mask_decoder
    return ImageFeatures(embed, (dec.conv_s0(s0), dec.conv_s1(s1)))


def _rows(feats: ImageFeatures, index: torch.Tensor) -> ImageFeatures:
    return ImageFeatures(feats.embed[index], (feats.high_res[0][index], feats.high_res[1][index]))


def _upsampled(logits: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(
        logits.detach().float(), size=(size, size), mode="bilinear", align_corners=False
    )[:, 0]


class _Tally:
    def __init__(self, weights: LossWeights) -> None:
        self.weights = weights
        self.losses: list[torch.Tensor] = []
        self.scales: list[float] = []
        self.parts: dict[str, float] = {}
        self.ious: list[float] = []
        self._small: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def add(self, out: SegmentOutput, target: torch.Tensor, scale: float = 1.0) -> None:
        # Losses at half the input size (twice the low-res logits), against the
        # area-averaged truth: a quarter of the cost of full size, sub-pixel edges kept.
        if target.shape[-1] > 2 * out.raw_candidates.shape[-1]:
            key = id(target)
            if key not in self._small:
                self._small[key] = (
                    target,
                    F.adaptive_avg_pool2d(target[:, None], 2 * out.raw_candidates.shape[-1])[:, 0],
                )
            target = self._small[key][1]
        sl = step_loss(out.raw_candidates, out.ious, out.object_score_logits, target, self.weights)
        self.losses.append(sl.total * scale)
        self.scales.append(scale)
        for k, v in sl.parts.items():
            self.parts[k] = self.parts.get(k, 0.0) + v
        present = target.flatten(1).any(1)
        if present.any():
            self.ious.append(float(sl.iou[present].mean()))

    def result(self) -> StepResult:
        n = len(self.losses)
        parts = {k: v / n for k, v in self.parts.items()}
        total = torch.stack(self.losses).sum() / sum(self.scales)
        return StepResult(total, parts, float(np.mean(self.ious)) if self.ious else 0.0)


def _interactive(
    model: SAM2Model,
    pix: torch.Tensor,
    high_res: tuple[torch.Tensor, torch.Tensor],
    target: torch.Tensor,
    prompts: PromptSet,
    rounds: int,
    tally: _Tally,
    rng: np.random.Generator,
    out: SegmentOutput | None = None,
    first_target: torch.Tensor | None = None,
    second_scale: float = 1.0,
) -> SegmentOutput:
    """The answer to ``prompts``, then ``rounds`` corrective clicks; every answer is trained.

    With ``out`` (a tracked frame's answer) the first round is skipped: the
    corrections start from that answer, fed back as mask prompt. ``first_target``
    replaces ``target`` for the first answer's loss only (the clicks still aim at ``target``);
    ``second_scale`` weighs the answer to the first corrective click.
    """
    cfg = model.cfg
    size = target.shape[-1]
    prev = None if out is None else out.masks
    for r in range(0 if out is None else 1, rounds + 1):
        if r > 0 and not add_corrections(prompts, _upsampled(out.masks, size), target, rng):
            break
        coords, labels = prompts.tensors(pix.device)
        multimask = cfg.multimask_min_pt_num <= prompts.num_points <= cfg.multimask_max_pt_num
        mask_in = (
            prev.detach().clamp(-PREV_LOGIT_CLAMP, PREV_LOGIT_CLAMP) if prev is not None else None
        )
        out = model.segment(pix, high_res, coords, labels, mask_in, multimask)
        tally.add(
            out,
            first_target if r == 0 and first_target is not None else target,
            second_scale if r == 1 else 1.0,
        )
        prev = out.masks
    return out


def _first_prompts(
    targets: np.ndarray,
    recipe: PromptRecipe,
    rng: np.random.Generator,
    neighbours: np.ndarray | None = None,
) -> tuple[PromptSet, bool]:
    """Clicks for every row, or boxes for every row (one kind per batch: equal point counts),
    and whether the boxes are merged.

    A "merged" box also holds a touching neighbour (where there is one): the
    corrective clicks then teach negative clicks that cut the neighbour away.
    """
    prompts = PromptSet(len(targets))
    r = rng.random()
    merged = neighbours is not None and r < recipe.p_merged_box
    use_box = r < recipe.p_box + (recipe.p_merged_box if neighbours is not None else 0.0)
    for row, mask in enumerate(targets):
        if merged:
            prompts.add_box(row, noisy_box(mask | neighbours[row], rng, noise=0.03))
        elif use_box:
            prompts.add_box(row, noisy_box(mask, rng))
        else:
            prompts.add(row, first_click(mask, rng), 1)
    return prompts, merged


def image_step(
    model: SAM2Model,
    batch: ImageBatch,
    recipe: PromptRecipe,
    rng: np.random.Generator,
    weights: LossWeights = DEFAULT_WEIGHTS,
    freeze_image_encoder: bool = False,
) -> StepResult:
    """Interactive segmentation of several objects on several images."""
    feats = _rows(
        encode(model, batch.images, freeze_image_encoder), batch.image_index.to(batch.images.device)
    )
    pix = model.condition(feats, None)
    tally = _Tally(weights)
    neighbours = batch.neighbours.cpu().numpy() if batch.neighbours is not None else None
    prompts, merged = _first_prompts(batch.targets.cpu().numpy() > 0, recipe, rng, neighbours)
    rounds = int(rng.integers(recipe.correction_rounds + 1))
    first_target, second_scale = None, 1.0
    if merged:
        second_scale = recipe.merged_split_weight
        rounds = max(rounds, recipe.merged_min_rounds)
        if recipe.merged_box_is_both:
            first_target = torch.maximum(batch.targets, batch.neighbours.to(batch.targets))
    _interactive(
        model, pix, feats.high_res, batch.targets, prompts, rounds, tally, rng,
        first_target=first_target, second_scale=second_scale,
    )
    return tally.result()


def clip_step(
    model: SAM2Model,
    batch: ClipBatch,
    recipe: PromptRecipe,
    rng: np.random.Generator,
    weights: LossWeights = DEFAULT_WEIGHTS,
    freeze_image_encoder: bool = False,
) -> StepResult:
    """Prompt the first frame, propagate through the clip with the model's own memories."""
    cfg = model.cfg
    length, b = batch.targets.shape[:2]
    feats_all = encode(model, batch.frames, freeze_image_encoder)

    def feats_of(t: int) -> ImageFeatures:
        return _rows(
            feats_all, torch.full((b,), t, dtype=torch.long, device=feats_all.embed.device)
        )

    num_frames = 16 if rng.random() < recipe.p_long_stack else length
    tally = _Tally(weights)
    cond: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    non_cond: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    f0, t0 = feats_of(0), batch.targets[0]
    if rng.random() < recipe.p_mask:
        out = model.mask_as_output(f0, t0[:, None])
    else:
        prompts, _ = _first_prompts(t0.cpu().numpy() > 0, recipe, rng)
        out = _interactive(
            model,
            model.condition(f0, None),
            f0.high_res,
            t0,
            prompts,
            recipe.clip_correction_rounds,
            tally,
            rng,
        )
    mem = model.encode_memory(f0.embed, out.masks, out.object_score_logits, binarize=True)
    cond[0] = (mem, out.obj_ptr)

    corrected = (
        int(rng.integers(1, length))
        if length > 1 and rng.random() < recipe.p_correct_tracked
        else -1
    )
    for t in range(1, length):
        ft, target = feats_of(t), batch.targets[t]
        pix = model.condition(ft, forward_memory_prompt(cond, non_cond, t, num_frames, cfg))
        out = model.segment(pix, ft.high_res, None, None, None, multimask=True)
        tally.add(out, target)
        if t == corrected and target.flatten(1).any(1).all():
            # The user corrects a tracked frame: clicks on its error, its answer fed back.
            out = _interactive(
                model,
                pix,
                ft.high_res,
                target,
                PromptSet(b),
                max(1, recipe.clip_correction_rounds),
                tally,
                rng,
                out,
                second_scale=recipe.tracked_correction_weight,
            )
            mem = model.encode_memory(ft.embed, out.masks, out.object_score_logits, binarize=True)
            cond[t] = (mem, out.obj_ptr)
        else:
            mem = model.encode_memory(ft.embed, out.masks, out.object_score_logits, binarize=False)
            non_cond[t] = (mem, out.obj_ptr)
    return tally.result()
