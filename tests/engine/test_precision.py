"""bfloat16 compute: the engine copes with bfloat16 model outputs.

bfloat16 is offered on CUDA GPUs and on CPUs with bfloat16 units; autocast
runs on every CPU, so the engine's handling of bfloat16 features, memories
and logits is tested here on any machine.
"""

import numpy as np
import pytest
import torch

from napari_sam2 import ImagePredictor, VideoSession, load_model, set_precision
from tests.engine.test_session import disc_stack


@pytest.fixture
def bf16_model(standin_checkpoint):
    model = load_model("sam2.1_hiera_tiny", checkpoint=standin_checkpoint, image_size=256)
    model.use_compute_dtype(torch.bfloat16)  # set_precision does this where supported
    return model


def test_bfloat16_session_agrees_with_float32(bf16_model, small_model):
    stack = disc_stack()
    results = {}
    for name, model in (("bf16", bf16_model), ("fp32", small_model)):
        session = VideoSession(model, stack)
        first = session.add_points(0, 1, [[32, 32]], [1])
        assert first.low_res_logits.dtype == np.float32
        frames = list(session.propagate(start=0))
        refined = session.add_points(3, 1, [[40, 32]], [1], clear=False)
        results[name] = [r.masks[0] for r in frames] + [refined.masks[0]]
    assert session.model.compute_dtype == torch.float32
    for a, b in zip(results["bf16"], results["fp32"]):
        union = (a | b).sum()
        assert union == 0 or (a & b).sum() / union > 0.9


def test_bfloat16_image_predictor(bf16_model):
    predictor = ImagePredictor(bf16_model)
    predictor.set_image(disc_stack()[0])
    out = predictor.predict(points=[[32, 32]], labels=[1])
    assert out.low_res_logits.dtype == np.float32 and out.iou.dtype == np.float32
    assert out.masks.shape == (3, *disc_stack().shape[1:])


def test_bfloat16_weights_are_cast_once_and_equal_autocast(bf16_model, small_model):
    linear = bf16_model.memory_attention.layers[0].linear1
    assert linear.weight.dtype == torch.bfloat16
    assert bf16_model.memory_attention.layers[0].norm1.weight.dtype == torch.float32
    x = torch.randn(2, 8, linear.in_features)
    reference = small_model.memory_attention.layers[0].linear1  # float32 weights
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(linear(x), reference(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="load it again"):
        bf16_model.use_compute_dtype(torch.float32)


def test_precision_errors(standin_checkpoint, small_model, monkeypatch):
    from napari_sam2.checkpoints import loading

    with pytest.raises(ValueError, match="unknown precision 'half'"):
        load_model("sam2.1_hiera_tiny", checkpoint=standin_checkpoint, precision="half")
    monkeypatch.setattr(loading, "cpu_supports_bfloat16", lambda: False)
    with pytest.raises(ValueError, match="bfloat16' needs a CUDA GPU or a CPU with bfloat16 units"):
        set_precision(small_model, "bfloat16")
    assert small_model.compute_dtype == torch.float32
    assert small_model.memory_attention.layers[0].linear1.weight.dtype == torch.float32
