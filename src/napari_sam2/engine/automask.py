"""Automatic mask generation: every object on one frame, from a grid of clicks.

:class:`AutoMaskGenerator` follows the reference ``SAM2AutomaticMaskGenerator``
(facebookresearch/sam2, December 2024), written anew on our model:

1. the frame (and, with ``crop_n_layers > 0``, each overlapping crop of it)
   is encoded once;
2. a grid of single positive clicks goes through the prompt encoder and the
   mask decoder ``points_per_batch`` at a time (three candidates per click
   with ``multimask_output``, else one with SAM 2's stability fallback);
3. candidates are kept when predicted IoU > ``pred_iou_thresh`` and the
   stability score (IoU of the frame-size masks at logit +-1) >=
   ``stability_score_thresh``; masks cut by a crop edge are dropped;
4. duplicates go by box non-maximum suppression, first within a crop
   (higher predicted IoU wins), then between crops (smaller crops win);
5. with ``min_mask_region_area > 0``, holes and islands smaller than that
   are cleaned with scikit-image, and NMS runs again preferring untouched
   masks (the reference SAM 1 generator's step; SAM 2's fills holes with a
   CUDA kernel and skips the step without one).

Records come sorted by predicted IoU, highest first. Masks whose pixels all
vanish are never returned. :meth:`AutoMaskGenerator.label_image` paints the
records into one non-overlapping instance label image.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from napari_sam2.engine.automask_ops import (
    clean_mask,
    crop_boxes,
    layer_point_grids,
    masks_to_boxes,
    near_crop_edge,
    nms,
    paint_labels,
    stability_scores,
)
from napari_sam2.engine.preprocess import Normalization, normalize_frame, to_model_input
from napari_sam2.model.mask_decoder import select_output
from napari_sam2.model.sam2 import SAM2Model

__all__ = ["AutoMaskGenerator", "AutoMaskSettings", "MaskRecord", "paint_labels"]

UPSAMPLE_BYTES = 1 << 27  # frame-size logits upsampled at a time (128 MiB)
Progress = Callable[[int, int], None]


def _show(value) -> str:
    """A short, repr-noise-free description of a setting's value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float)):
        return str(value)
    if isinstance(value, str):
        return repr(value[:20])
    return f"a {type(value).__name__}"


def _int(value, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{what} must be an integer >= {low}, got {_show(value)}")
    return int(value)


def _unit(value, what: str, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a number in [{low:g}, {high:g}], got {_show(value)}")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{what} must be a number in [{low:g}, {high:g}], got {_show(value)}")
    return value


@dataclass(frozen=True)
class AutoMaskSettings:
    """How :class:`AutoMaskGenerator` samples, filters and cleans (reference defaults)."""

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.8
    stability_score_thresh: float = 0.95
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    min_mask_region_area: int = 0
    multimask_output: bool = True
    stability_score_offset: float = 1.0
    mask_threshold: float = 0.0
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 1

    def __post_init__(self) -> None:
        _int(self.points_per_side, "points_per_side", 1)
        _int(self.points_per_batch, "points_per_batch", 1)
        _unit(self.pred_iou_thresh, "pred_iou_thresh")
        _unit(self.stability_score_thresh, "stability_score_thresh")
        _unit(self.box_nms_thresh, "box_nms_thresh")
        _unit(self.crop_nms_thresh, "crop_nms_thresh")
        _unit(self.crop_overlap_ratio, "crop_overlap_ratio", 0.0, 0.99)
        _unit(self.stability_score_offset, "stability_score_offset", 0.0, 1e6)
        _unit(self.mask_threshold, "mask_threshold", -1e6, 1e6)
        if _int(self.crop_n_layers, "crop_n_layers", 0) > 6:
            raise ValueError(f"crop_n_layers must be at most 6, got {_show(self.crop_n_layers)}")
        _int(self.min_mask_region_area, "min_mask_region_area", 0)
        _int(self.crop_n_points_downscale_factor, "crop_n_points_downscale_factor", 1)
        if not isinstance(self.multimask_output, (bool, np.bool_)):
            raise ValueError(
                f"multimask_output must be True or False, got {_show(self.multimask_output)}")


@dataclass(frozen=True)
class MaskRecord:
    """One automatically found mask.

    ``box`` is ``(x, y, w, h)`` with ``w = x_last - x_first`` (the reference's
    convention); ``point`` the grid click ``(x, y)`` that made it and
    ``crop_box`` ``(x, y, w, h)`` the crop it was found in.
    """

    mask: np.ndarray = field(repr=False)  # (H, W) bool
    area: int
    box: tuple[float, float, float, float]
    predicted_iou: float
    stability_score: float
    point: tuple[float, float]
    crop_box: tuple[int, int, int, int]


@dataclass
class _Found:
    """Candidates of one crop (or of all crops), struct of arrays, frame coordinates."""

    boxes: list = field(default_factory=list)  # (4,) int64 xyxy, last pixel inclusive
    ious: list = field(default_factory=list)
    stability: list = field(default_factory=list)
    points: list = field(default_factory=list)  # (x, y)
    crops: list = field(default_factory=list)  # xyxy
    masks: list = field(default_factory=list)  # (packed bits of the box-cropped mask, shape)

    def __len__(self) -> int:
        return len(self.ious)

    def extend(self, other: _Found) -> None:
        for name in ("boxes", "ious", "stability", "points", "crops", "masks"):
            getattr(self, name).extend(getattr(other, name))

    def take(self, index: Sequence[int]) -> _Found:
        return _Found(*([getattr(self, n)[i] for i in index]
                        for n in ("boxes", "ious", "stability", "points", "crops", "masks")))

    def box_tensor(self) -> torch.Tensor:
        return torch.tensor(np.array(self.boxes, dtype=np.int64).reshape(-1, 4))

    def full_mask(self, i: int, shape: tuple[int, int]) -> np.ndarray:
        packed, (bh, bw) = self.masks[i]
        x0, y0 = int(self.boxes[i][0]), int(self.boxes[i][1])
        out = np.zeros(shape, dtype=bool)
        out[y0:y0 + bh, x0:x0 + bw] = np.unpackbits(packed, axis=-1, count=bw).astype(bool)
        return out


def _pack(mask: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    x0, y0, x1, y1 = (int(v) for v in box)
    part = mask[y0:y1 + 1, x0:x1 + 1]
    return np.packbits(part, axis=-1), part.shape


class AutoMaskGenerator:
    """Segment everything on one frame with a grid of point prompts.

    ``model`` is a loaded :class:`~napari_sam2.model.sam2.SAM2Model`; the
    other arguments are :class:`AutoMaskSettings` fields (or pass
    ``settings=``). ``normalization`` maps non-8-bit frames to [0, 1] as the
    rest of the engine does. Between calls only the encoding of the last
    crop is kept, so a second run on the same frame (other thresholds, a
    finer grid) skips the image encoder.
    """

    def __init__(
        self,
        model: SAM2Model,
        points_per_side: int = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8,
        stability_score_thresh: float = 0.95,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        min_mask_region_area: int = 0,
        multimask_output: bool = True,
        *,
        settings: AutoMaskSettings | None = None,
        normalization: Normalization | None = None,
        **more: float | int,
    ) -> None:
        if settings is None:
            try:
                settings = AutoMaskSettings(
                    points_per_side, points_per_batch, pred_iou_thresh, stability_score_thresh,
                    box_nms_thresh, crop_n_layers, min_mask_region_area, multimask_output, **more,
                )
            except TypeError as err:
                raise ValueError(f"unknown setting: {err}") from None
        elif not isinstance(settings, AutoMaskSettings):
            raise ValueError(f"settings must be AutoMaskSettings, got {type(settings).__name__}")
        self.model = model
        self.settings = settings
        self.normalization = normalization or Normalization()
        self._memo: tuple | None = None  # (key, features, embedding) of the last crop

    # -- public ----------------------------------------------------------------
    def generate(self, frame: np.ndarray, progress: Progress | None = None) -> list[MaskRecord]:
        """Masks of everything found on ``frame`` (``(H, W)`` grey or ``(H, W, 3)``).

        ``progress(done, total)`` is called after each batch of clicks.
        """
        image = self._normalized(frame)
        shape = image.shape[:2]
        s = self.settings
        crops = crop_boxes(shape, s.crop_n_layers, s.crop_overlap_ratio)
        grids = layer_point_grids(s.points_per_side, s.crop_n_layers,
                                  s.crop_n_points_downscale_factor)
        total = sum(math.ceil(len(grids[layer]) / s.points_per_batch) for _, layer in crops)
        counter = [0, total, progress]
        found = _Found()
        for crop, layer in crops:
            found.extend(self._crop(image, crop, grids[layer], counter))
        if len(crops) > 1 and len(found):
            areas = [(c[2] - c[0]) * (c[3] - c[1]) for c in found.crops]
            scores = torch.tensor([1.0 / a for a in areas], dtype=torch.float64)
            found = found.take(nms(found.box_tensor(), scores, s.crop_nms_thresh).tolist())
        masks = [found.full_mask(i, shape) for i in range(len(found))]
        if s.min_mask_region_area > 0 and masks:
            found, masks = self._clean(found, masks)
        order = sorted(range(len(found)), key=lambda i: -found.ious[i])
        return [self._record(found, masks, i) for i in order if masks[i].any()]

    def label_image(self, frame: np.ndarray, order: str = "area",
                    progress: Progress | None = None) -> np.ndarray:
        """:meth:`generate`, then :func:`paint_labels` into one ``(H, W)`` label image."""
        frame = np.asarray(frame)
        return paint_labels(self.generate(frame, progress), frame.shape[:2], order)

    # -- steps -----------------------------------------------------------------
    def _normalized(self, frame) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim == 3 and frame.shape[-1] in (1, 3, 4):
            frame = frame[..., 0] if frame.shape[-1] == 1 else frame[..., :3]
        if frame.ndim != 2 and not (frame.ndim == 3 and frame.shape[-1] == 3):
            raise ValueError(f"a frame must be (H, W) or (H, W, 3), got shape {frame.shape}")
        if frame.size == 0:
            raise ValueError(f"the frame is empty (shape {frame.shape})")
        # The whole frame at once, so that crops share the frame's intensity scale.
        return normalize_frame(frame, self.normalization)

    def _crop(self, image: np.ndarray, crop, grid: np.ndarray, counter: list) -> _Found:
        s = self.settings
        x0, y0, x1, y1 = crop
        part = image[y0:y1, x0:x1]
        feats, embed = self._encode(part)
        points = grid * np.array([[x1 - x0, y1 - y0]], dtype=np.float64)
        found = _Found()
        for start in range(0, len(points), s.points_per_batch):
            found.extend(self._batch(embed, feats, points[start:start + s.points_per_batch],
                                     crop, image.shape[:2]))
            counter[0] += 1
            if counter[2] is not None:
                counter[2](counter[0], counter[1])
        if not len(found):
            return found
        keep = nms(found.box_tensor(), torch.tensor(found.ious, dtype=torch.float64),
                   s.box_nms_thresh)
        found = found.take(keep.tolist())
        for i in range(len(found)):  # to frame coordinates
            found.boxes[i] = found.boxes[i] + np.array([x0, y0, x0, y0])
            found.points[i] = (found.points[i][0] + x0, found.points[i][1] + y0)
        return found

    def _encode(self, part: np.ndarray):
        model = self.model
        digest = hashlib.blake2b(np.ascontiguousarray(part).data, digest_size=16).digest()
        key = (id(model), model.cfg.image_size, part.shape, digest)
        memo = self._memo
        if memo is not None and memo[0] == key:
            return memo[1], memo[2]
        with torch.inference_mode():
            x = to_model_input(part, model.cfg.image_size, Normalization(mode="none"),
                               device=model.device)
            feats = model.encode_image(x)
            embed = model.condition(feats, None)
        self._memo = (key, feats, embed)
        return feats, embed

    def _batch(self, embed, feats, points: np.ndarray, crop, frame_shape) -> _Found:
        s, model, cfg = self.settings, self.model, self.model.cfg
        x0, y0, x1, y1 = crop
        ch, cw = y1 - y0, x1 - x0
        pts = torch.as_tensor(points, dtype=torch.float32)
        coords = pts.clone()
        coords[:, 0] = coords[:, 0] / cw * cfg.image_size
        coords[:, 1] = coords[:, 1] / ch * cfg.image_size
        coords = coords[:, None, :].to(model.device)
        labels = torch.ones((len(points), 1), dtype=torch.int32, device=model.device)
        with torch.inference_mode():
            out = model.decode(embed, feats.high_res, coords, labels, None)
            out = select_output(out, s.multimask_output, cfg.dynamic_multimask_stability_delta,
                                cfg.dynamic_multimask_stability_thresh)
            m = out.masks.shape[1]
            logits = out.masks.float().flatten(0, 1)  # (B*M, h, w)
            ious = out.ious.float().flatten().cpu()
            pts = pts.repeat_interleave(m, dim=0)
            keep = ious > s.pred_iou_thresh
            if s.pred_iou_thresh <= 0:
                keep = torch.ones_like(keep)
            idx = torch.nonzero(keep).flatten()
            found = _Found()
            chunk = max(1, UPSAMPLE_BYTES // (4 * ch * cw))
            for start in range(0, len(idx), chunk):
                part = idx[start:start + chunk]
                self._upsampled(logits[part.to(logits.device)], ious[part], pts[part],
                                crop, frame_shape, found)
        return found

    def _upsampled(self, low, ious, pts, crop, frame_shape, found: _Found) -> None:
        s = self.settings
        x0, y0, x1, y1 = crop
        up = F.interpolate(low[:, None], size=(y1 - y0, x1 - x0), mode="bilinear",
                           align_corners=False)[:, 0]
        stab = stability_scores(up, s.mask_threshold, s.stability_score_offset).cpu()
        ok = stab >= s.stability_score_thresh if s.stability_score_thresh > 0 else \
            torch.ones_like(stab, dtype=torch.bool)
        masks = up[ok.to(up.device)] > s.mask_threshold
        boxes = masks_to_boxes(masks).cpu()
        ious, stab, pts = ious[ok], stab[ok], pts[ok]
        h, w = frame_shape
        drop = near_crop_edge(boxes, crop, (0, 0, w, h)) | ~masks.flatten(1).any(1).cpu()
        masks = masks.cpu().numpy()
        for i in torch.nonzero(~drop).flatten().tolist():
            found.boxes.append(boxes[i].numpy())
            found.ious.append(float(ious[i]))
            found.stability.append(float(stab[i]))
            found.points.append((float(pts[i, 0]), float(pts[i, 1])))
            found.crops.append(tuple(crop))
            found.masks.append(_pack(masks[i], boxes[i].numpy()))

    def _clean(self, found: _Found, masks: list[np.ndarray]) -> tuple[_Found, list[np.ndarray]]:
        area = self.settings.min_mask_region_area
        cleaned, untouched = [], []
        for mask in masks:
            new, changed = clean_mask(mask, area)
            cleaned.append(new)
            untouched.append(0.0 if changed else 1.0)
        boxes = masks_to_boxes(torch.from_numpy(np.stack(cleaned)))
        keep = nms(boxes, torch.tensor(untouched, dtype=torch.float64),
                   self.settings.box_nms_thresh).tolist()
        found = found.take(keep)
        found.boxes = [boxes[i].numpy() for i in keep]
        return found, [cleaned[i] for i in keep]

    @staticmethod
    def _record(found: _Found, masks: list[np.ndarray], i: int) -> MaskRecord:
        x0, y0, x1, y1 = (float(v) for v in found.boxes[i])
        c = found.crops[i]
        return MaskRecord(
            mask=masks[i],
            area=int(masks[i].sum()),
            box=(x0, y0, x1 - x0, y1 - y0),
            predicted_iou=found.ious[i],
            stability_score=found.stability[i],
            point=found.points[i],
            crop_box=(c[0], c[1], c[2] - c[0], c[3] - c[1]),
        )

