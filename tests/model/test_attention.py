"""The CPU memory-attention path equals plain scaled dot-product attention."""

import torch
import torch.nn.functional as F

from napari_sam2.model import transformer
from napari_sam2.model.transformer import RoPEAttention


def test_chunked_attention_matches_sdpa(monkeypatch):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 64, 32), torch.randn(3, 1, 300, 32), torch.randn(3, 1, 300, 8)
    expected = F.scaled_dot_product_attention(q, k, v)
    # Small chunks, and a last chunk shorter than the rest.
    monkeypatch.setattr(transformer, "_CHUNK_BYTES", 3 * 300 * 4 * 7)
    got = transformer._cpu_attention(q, k, v)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def test_values_projected_after_attention_is_the_same_map(monkeypatch):
    """Memory cross-attention in bfloat16 on a CPU attends to the 64-wide memories
    and projects afterwards; that must equal projecting the values first (checked
    in float32, the path forced)."""
    monkeypatch.setattr(transformer, "cpu_bfloat16_attention", lambda q: True)
    torch.manual_seed(0)
    attn = RoPEAttention(32, num_heads=1, kv_in_dim=8).eval()
    x = torch.randn(2, 16, 32)  # a 4 x 4 grid of queries
    memory = torch.randn(2, 3 * 16 + 4, 8)  # 3 memory frames and 4 pointer tokens
    with torch.no_grad():
        got = attn(x, memory, memory, num_k_exclude_rope=4)
        # The general path: project values first, then attend.
        q, k = attn._heads(attn.q_proj(x)), attn._heads(attn.k_proj(memory))
        cos, sin = transformer.axial_rope(32, 16)
        q = transformer.apply_rope(q, cos, sin)
        k = torch.cat([transformer.apply_rope(k[:, :, :48], cos, sin), k[:, :, 48:]], dim=2)
        v = attn._heads(attn.v_proj(memory))
        expected = attn.out_proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def _memory_prompt(model, b: int, h: int):
    from napari_sam2.model.sam2 import MemoryPrompt

    torch.manual_seed(1)
    m, c = model.cfg.mem_dim, model.cfg.d_model
    spatial = [(torch.randn(b, m, h, h), t_pos) for t_pos in (0, 1, 3)]
    pointers = [(torch.randn(b, c), d) for d in (0, 1, 2)]
    return MemoryPrompt(spatial, pointers, 16)


def test_cached_memory_keys_give_the_same_conditioning(small_model):
    """Keys formed once per memory frame (plus their temporal offset at each use)
    condition a frame as the keys formed whole."""
    from napari_sam2.model.sam2 import ImageFeatures

    model = small_model
    h = model.cfg.image_size // 16
    feats = ImageFeatures(torch.randn(2, model.cfg.d_model, h, h), (None, None))
    memory = _memory_prompt(model, 2, h)
    with torch.inference_mode():
        expected = model.condition(feats, memory)
        memory.spatial_keys = [model.memory_keys(f) for f, _ in memory.spatial]
        memory.key_offsets = [model.memory_key_offsets(t, h, h) for _, t in memory.spatial]
        got = model.condition(feats, memory)
    assert len(memory.spatial_keys[0]) == len(model.memory_attention.layers)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-5)
    # A wrong temporal position must show: the offsets are not a no-op.
    memory.key_offsets = memory.key_offsets[::-1]
    with torch.inference_mode():
        assert (model.condition(feats, memory) - expected).abs().max() > 1e-3
