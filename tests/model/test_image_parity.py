"""Image predictor agrees with the reference SAM 2.1 on stand-in tiny weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2 import ImagePredictor
from tests.conftest import golden


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


@pytest.fixture(scope="module")
def image_case(standin_tiny):
    spec, data = golden("image_tiny")
    predictor = ImagePredictor(standin_tiny)
    predictor.set_image(data["frames"][0])
    return spec, data, predictor


def test_encoder_features_within_float16(image_case, standin_tiny):
    spec, data, predictor = image_case
    ours = {
        "image_embed": predictor._embed[0],
        "high_res_0": predictor._features.high_res[0][0],
        "high_res_1": predictor._features.high_res[1][0],
    }
    for name, value in ours.items():
        ref = torch.from_numpy(data[f"feat_{name}"].astype(np.float32))
        # float16 has 11 significant bits: allow a couple of its ulps.
        tol = 2 * 2.0 ** -10 * ref.abs().clamp(min=1.0)
        assert ((value - ref).abs() <= tol).all(), name


def test_every_answer_matches(image_case):
    spec, data, predictor = image_case
    answers = {}
    for qi, q in enumerate(spec["queries"]):
        mask_in = data[q["mask_from"]] if q.get("mask_from") else None
        answers[qi] = predictor.predict(
            points=q.get("points"), labels=q.get("labels"), box=q.get("box"),
            mask_logits=mask_in, multimask=q["multimask"],
        )
    assert len(spec["steps"]) == 6
    for step in spec["steps"]:
        ans = answers[step["query"]]
        ours, ref = ans.low_res_logits[step["mask_index"]], data[step["key"]]
        assert ours.shape == (256, 256) and ours.dtype == np.float32
        assert np.abs(ours - ref).mean() <= 1e-3
        assert _iou(ours > 0, ref > 0) >= 0.995
        assert abs(float(ans.iou[step["mask_index"]]) - step["iou_pred"]) <= 1e-3


def test_masks_at_frame_size_and_any_dtype(standin_tiny):
    predictor = ImagePredictor(standin_tiny.__class__(standin_tiny.cfg.with_image_size(256)).eval())
    predictor.model.load_state_dict(standin_tiny.state_dict())
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 4000, size=(100, 150), dtype=np.uint16)
    predictor.set_image(frame)
    ans = predictor.predict(points=[[75, 50]], labels=[1])
    assert ans.masks.shape == (3, 100, 150) and ans.masks.dtype == bool
    assert ans.low_res_logits.shape == (3, 64, 64)
    assert ans.iou.shape == (3,) and ans.object_score_logits.shape == (1,)
    one = predictor.predict(box=[10, 10, 90, 60], multimask=False)
    assert one.masks.shape == (1, 100, 150)


def test_bad_prompts(standin_tiny):
    predictor = ImagePredictor(standin_tiny)
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict(points=[[1, 1]], labels=[1])
    predictor._shape = (10, 10)
    predictor._features = object()
    with pytest.raises(ValueError, match="outside the frame"):
        predictor.predict(points=[[50, 5]], labels=[1])
    with pytest.raises(ValueError, match="labels must be 1"):
        predictor.predict(points=[[5, 5]], labels=[7])
    with pytest.raises(ValueError, match="points and labels go together"):
        predictor.predict(points=[[5, 5]])
