"""bfloat16 fast mode on the CPU: detection, the matmul attention path, agreement with float32.

The figures (speed against the reference, IoU against exact mode on the
demo model's held-out stacks) are in ``benchmarks/bench_bfloat16.py``; these
tests check the mechanics at a tolerance that a broken cast would fail.
"""

import pytest
import torch
import torch.nn.functional as F

from napari_sam2 import load_model, set_precision
from napari_sam2.checkpoints import loading
from napari_sam2.model import transformer
from napari_sam2.model.precision import cpu_supports_bfloat16


def test_detection_answers_a_bool():
    assert isinstance(cpu_supports_bfloat16(), bool)


def test_bfloat16_attention_on_the_cpu_is_plain_matmuls(monkeypatch):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, n, 32) for n in (50, 70, 70))
    expected = F.scaled_dot_product_attention(q, k, v)

    def no_fused(*args, **kwargs):
        raise AssertionError("the fused kernel is slow in bfloat16 on a CPU")

    monkeypatch.setattr(transformer.F, "scaled_dot_product_attention", no_fused)
    got = transformer.attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected, atol=3e-2, rtol=3e-2)


def test_float32_keeps_the_fused_kernel(monkeypatch):
    calls = []
    fused = F.scaled_dot_product_attention
    monkeypatch.setattr(transformer.F, "scaled_dot_product_attention",
                        lambda *a, **k: calls.append(1) or fused(*a, **k))
    q = torch.randn(1, 2, 8, 16)
    transformer.attention(q, q, q)
    assert calls == [1]


def test_precision_on_a_cpu_with_and_without_bfloat16_units(standin_checkpoint, monkeypatch):
    monkeypatch.setattr(loading, "cpu_supports_bfloat16", lambda: False)
    with pytest.raises(ValueError, match="a CPU with bfloat16 units .*this CPU has none"):
        load_model("sam2.1_hiera_tiny", checkpoint=standin_checkpoint, image_size=256,
                   precision="bfloat16")
    monkeypatch.setattr(loading, "cpu_supports_bfloat16", lambda: True)
    model = load_model("sam2.1_hiera_tiny", checkpoint=standin_checkpoint, image_size=256)
    assert set_precision(model, "bfloat16").compute_dtype == torch.bfloat16


def test_bfloat16_steps_agree_with_float32(standin_checkpoint, small_model, monkeypatch):
    monkeypatch.setattr(loading, "cpu_supports_bfloat16", lambda: True)
    bf16 = load_model("sam2.1_hiera_tiny", checkpoint=standin_checkpoint, image_size=256,
                      precision="bfloat16")
    torch.manual_seed(0)
    image = torch.randn(1, 3, 256, 256)
    with torch.inference_mode():
        feats = [m.encode_image(image) for m in (small_model, bf16)]
        embeds = [f.embed.float() for f in feats]
        rel = (embeds[1] - embeds[0]).norm() / embeds[0].norm()
        assert rel < 0.05  # bfloat16 rounding: ~1e-2; a wrong cast or layout: ~1
        memory = small_model.encode_memory(feats[0].embed, torch.randn(1, 1, 256, 256),
                                           torch.ones(1, 1), False)
        from napari_sam2.model.sam2 import MemoryPrompt

        prompt = MemoryPrompt([(memory, 0)], [], 16)
        conditioned = [m.condition(f, prompt).float() for m, f in zip((small_model, bf16), feats)]
        rel = (conditioned[1] - conditioned[0]).norm() / conditioned[0].norm()
        assert rel < 0.05
