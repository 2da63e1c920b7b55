"""``ImagePredictor``: SAM on one image (or one slice): set it once, prompt many times."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from napari_sam2.engine.preprocess import Normalization, to_model_input
from napari_sam2.engine.prompts import PointPrompt, make_box, make_points
from napari_sam2.engine.results import ImagePrediction
from napari_sam2.model.mask_decoder import select_output
from napari_sam2.model.sam2 import ImageFeatures, SAM2Model


class ImagePredictor:
    """Holds a model and the features of the current image."""

    def __init__(self, model: SAM2Model, normalization: Normalization | None = None) -> None:
        self.model = model
        self.normalization = normalization or Normalization()
        self._features: ImageFeatures | None = None
        self._embed: torch.Tensor | None = None
        self._shape: tuple[int, int] | None = None

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self._shape

    def set_image(self, frame: np.ndarray) -> None:
        """Encode ``frame``: ``(H, W)`` grey or ``(H, W, 3)`` RGB, any size and dtype.

        8-bit input is scaled by 1/255 as in the reference; other dtypes are
        mapped to [0, 1] by robust percentiles (see ``Normalization``).
        """
        frame = np.asarray(frame)
        if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[-1] not in (3, 4)):
            raise ValueError(f"an image must be (H, W) or (H, W, 3), got shape {frame.shape}")
        image = to_model_input(
            frame, self.model.cfg.image_size, self.normalization, device=self.model.device
        )
        with torch.inference_mode():
            feats = self.model.encode_image(image)
            self._embed = self.model.condition(feats, None)
        self._features = feats
        self._shape = tuple(frame.shape[:2])  # type: ignore[assignment]

    def predict(
        self,
        points=None,
        labels=None,
        box=None,
        mask_logits=None,
        multimask: bool = True,
    ) -> ImagePrediction:
        """Masks for clicks ``(x, y)`` with ``labels`` (1/0), a box ``(x0, y0, x1, y1)``,
        and/or the ``(256, 256)`` low-res logits of an earlier answer.

        ``multimask`` gives three candidates (best for a single click);
        otherwise one mask, with SAM 2's fallback to the best candidate when
        the single mask is unstable.
        """
        if self._features is None or self._shape is None:
            raise RuntimeError("no image set: call set_image(frame) before predict()")
        prompt = self._prompt(points, labels, box)
        model, cfg = self.model, self.model.cfg
        device = model.device
        coords, labs = prompt.to_model(self._shape, cfg.image_size, device)
        mask_in = None
        if mask_logits is not None:
            mask_in = torch.as_tensor(np.asarray(mask_logits), dtype=torch.float32, device=device)
            side = cfg.low_res_mask_size
            if mask_in.shape[-2:] != (side, side):
                raise ValueError(
                    f"mask_logits must be ({side}, {side}) low-res logits, "
                    f"got {tuple(mask_in.shape)}"
                )
            mask_in = mask_in.reshape(1, 1, side, side)
        with torch.inference_mode():
            out = model.decode(self._embed, self._features.high_res, coords, labs, mask_in)
            out = select_output(out, multimask, cfg.dynamic_multimask_stability_delta,
                                cfg.dynamic_multimask_stability_thresh)
            logits = out.masks[0].float()
            full = F.interpolate(
                logits[None], size=self._shape, mode="bilinear", align_corners=False
            )[0]
        return ImagePrediction(
            low_res_logits=logits.clamp(-32.0, 32.0).cpu().numpy(),
            iou=out.ious[0].float().cpu().numpy(),
            object_score_logits=out.object_score_logits[0].float().cpu().numpy(),
            masks=(full > 0).cpu().numpy(),
        )

    def _prompt(self, points, labels, box) -> PointPrompt:
        if points is None and box is None:
            raise ValueError("give points (with labels) and/or a box")
        if (points is None) != (labels is None):
            raise ValueError("points and labels go together: give both or neither")
        prompt = make_box(box, self._shape) if box is not None else None
        if points is not None:
            clicks = make_points(points, labels, self._shape)
            prompt = clicks if prompt is None else prompt.extended(clicks)
        return prompt
