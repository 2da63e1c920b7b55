"""The training loop on a tiny fixed problem: the loss falls; checkpoints resume; export loads."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from tests.training.standin import disc_stack

from napari_sam2.model import build_model, get_config
from napari_sam2.model.sam2 import MemoryPrompt
from napari_sam2.training import (
    FixedSource,
    TrainConfig,
    export_model,
    forward_memory_prompt,
    train,
)
from napari_sam2.training.data import clip_batch, image_batch
from napari_sam2.training.loop import build_training_model, lr_at, make_optimizer
from napari_sam2.training.prompts import corrective_click, noisy_box
from napari_sam2.training.steps import PromptRecipe, clip_step, image_step

SIZE = 64  # tiny input: 4x4 image embedding, 16x16 low-res masks


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _cfg(**kw) -> TrainConfig:
    base = {
        "model": "demo",
        "image_size": SIZE,
        "steps": 30,
        "warmup_steps": 3,
        "lr": 2e-3,
        "images_per_batch": 2,
        "objects_per_image": 2,
        "clip_length": 3,
        "clip_objects": 2,
        "image_phase": 0.0,
        "clip_fraction": 0.0,
        "log_every": 1000,
        "prompts": PromptRecipe(correction_rounds=1),
    }
    return TrainConfig(**{**base, **kw})


def _stacks():
    return [disc_stack(s, frames=6, size=SIZE, cells=3) for s in range(2)]


def test_loss_falls_on_a_fixed_batch():
    cfg = _cfg()
    torch.manual_seed(0)
    model = build_training_model(cfg)
    opt = make_optimizer(model, cfg)
    rng = np.random.default_rng(0)
    batch = image_batch(_stacks(), 2, 2, SIZE, rng)
    losses = []
    for step in range(25):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg) * g["lr_scale"]
        res = image_step(model, batch, cfg.prompts, np.random.default_rng(1), cfg.weights)
        opt.zero_grad()
        res.loss.backward()
        opt.step()
        losses.append(float(res.loss.detach()))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3]), losses


def test_clip_step_backpropagates_through_memories():
    cfg = _cfg()
    model = build_training_model(cfg)
    rng = np.random.default_rng(0)
    batch = clip_batch(_stacks(), 3, 2, SIZE, rng)
    res = clip_step(model, batch, PromptRecipe(p_mask=0.0, p_correct_tracked=1.0), rng)
    res.loss.backward()
    for name in (
        "memory_attention.layers.0.cross_attn_image.k_proj.weight",
        "memory_encoder.out_proj.weight",
        "maskmem_tpos_enc",
    ):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    # Pointers: from the decoder's token where the object is scored visible, else no_obj_ptr.
    ptr_grads = [
        p.grad for p in (*model.obj_ptr_proj.parameters(), model.no_obj_ptr) if p.grad is not None
    ]
    assert sum(float(g.abs().sum()) for g in ptr_grads) > 0


def test_frozen_encoder_gets_no_gradient():
    cfg = _cfg(freeze_image_encoder=True)
    model = build_training_model(cfg)
    rng = np.random.default_rng(0)
    res = image_step(
        model, image_batch(_stacks(), 2, 2, SIZE, rng), cfg.prompts, rng, freeze_image_encoder=True
    )
    res.loss.backward()
    assert all(p.grad is None for p in model.image_encoder.parameters())
    assert model.sam_mask_decoder.conv_s0.weight.grad is not None


def test_memory_prompt_mirrors_inference_selection():
    cfg = get_config("demo")
    def feat(t):
        return torch.full((1, 1), float(t))
    cond = {0: (feat(0), feat(100))}
    non_cond = {t: (feat(t), feat(100 + t)) for t in range(1, 9)}
    mp = forward_memory_prompt(cond, non_cond, 9, 20, cfg)
    assert isinstance(mp, MemoryPrompt)
    assert [(float(f), p) for f, p in mp.spatial] == [
        (0, 0),
        (3, 1),
        (4, 2),
        (5, 3),
        (6, 4),
        (7, 5),
        (8, 6),
    ]
    assert [(float(p) - 100, d) for p, d in mp.pointers] == [(0, 9)] + [
        (9 - d, d) for d in range(1, 9)
    ]
    assert mp.max_ptr_distance == 15
    assert forward_memory_prompt(cond, {}, 1, 8, cfg).max_ptr_distance == 7


def test_train_checkpoints_resumes_and_exports(tmp_path):
    cfg = _cfg(steps=4, image_phase=0.5, clip_fraction=1.0, log_every=2)
    source = FixedSource(_stacks())
    train(cfg, source, tmp_path, progress=False, export=tmp_path / "demo.pt", log=lambda m: None)
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ckpt["step"] == 4 and "model" in ckpt and "optimizer" in ckpt
    lines = [json.loads(line) for line in (tmp_path / "loss_log.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in lines] == ["image", "image", "clip", "clip"]
    # Resume: two more steps of a longer run continue from step 4.
    train(
        _cfg(steps=6, image_phase=0.5, clip_fraction=1.0),
        source,
        tmp_path,
        progress=False,
        log=lambda m: None,
    )
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 6
    # The float16 export loads into a float32 model (load_state_dict casts).
    state = torch.load(tmp_path / "demo.pt", weights_only=True)["model"]
    assert any(v.dtype == torch.float16 for v in state.values())
    model = build_model(get_config("demo"), image_size=SIZE)
    model.load_state_dict(state)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_export_is_small(tmp_path):
    path = export_model(build_model(get_config("demo")), tmp_path / "demo.pt")
    assert path.stat().st_size < 10e6


def test_prompt_simulation():
    rng = np.random.default_rng(0)
    truth = np.zeros((20, 20), bool)
    truth[5:15, 5:15] = True
    pred = truth.copy()
    pred[5:15, 5:8] = False  # missed strip: a positive click inside it
    (x, y), label = corrective_click(pred, truth, rng)
    assert label == 1 and truth[int(y), int(x)] and not pred[int(y), int(x)]
    assert corrective_click(truth, truth, rng) is None
    box = noisy_box(truth, rng, noise=0.0)
    assert tuple(box) == (5, 5, 14, 14)


def test_bfloat16_autocast_step(tmp_path):
    cfg = _cfg(steps=2, dtype="bfloat16", image_phase=0.5, clip_fraction=1.0)
    model = train(cfg, FixedSource(_stacks()), tmp_path, progress=False, log=lambda m: None)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_training_mode_always_returns_the_single_mask():
    """As the reference: the unstable-single-mask fallback is an inference rule."""
    model = build_model(get_config("demo"), image_size=SIZE)
    feats = model.encode_image(torch.randn(1, 3, SIZE, SIZE))
    coords, labels = (
        torch.tensor([[[10.0, 10.0], [40.0, 40.0]]]),
        torch.tensor([[2, 3]], dtype=torch.int32),
    )
    with torch.no_grad():
        dec = model.decode(feats.embed, feats.high_res, coords, labels, None)
        model.train()
        out = model.segment(feats.embed, feats.high_res, coords, labels, None, multimask=False)
    assert torch.equal(out.raw_candidates[:, 0], dec.masks[:, 0])


def test_a_box_around_two_cells_is_first_trained_against_both():
    # The answer to a box around a cell and its neighbour is scored against both
    # cells (what was boxed); the corrective clicks that follow, against the one.
    model = build_model(get_config("demo"), image_size=SIZE).eval()
    rng = np.random.default_rng(3)
    stack = disc_stack(3, frames=3, size=SIZE, cells=4)
    batch = image_batch([stack], 2, 2, SIZE, rng, p_touching=1.0)
    assert batch.neighbours.flatten(1).any(1).all()

    def loss(both: bool, neighbours: torch.Tensor) -> float:
        recipe = PromptRecipe(p_merged_box=1.0, correction_rounds=0, merged_box_is_both=both)
        with torch.no_grad():
            res = image_step(
                model, replace(batch, neighbours=neighbours), recipe, np.random.default_rng(0)
            )
        return float(res.loss)

    assert loss(True, batch.neighbours) != pytest.approx(loss(False, batch.neighbours), rel=1e-3)
    alone = torch.zeros_like(batch.neighbours)  # no neighbour: the same box, the same target
    assert loss(True, alone) == pytest.approx(loss(False, alone), rel=1e-6)


def test_the_answer_to_the_split_click_can_weigh_more():
    # merged_split_weight scales the answer to the click after a merged box, and only that.
    model = build_model(get_config("demo"), image_size=SIZE).eval()
    stack = disc_stack(3, frames=3, size=SIZE, cells=4)
    batch = image_batch([stack], 2, 2, SIZE, np.random.default_rng(3), p_touching=1.0)

    def loss(weight: float, merged: float, rounds: int, corrections: int = 0) -> float:
        recipe = PromptRecipe(
            p_merged_box=merged, p_box=0.0, correction_rounds=corrections,
            merged_min_rounds=rounds, merged_box_is_both=True, merged_split_weight=weight,
        )
        with torch.no_grad():
            return float(image_step(model, batch, recipe, np.random.default_rng(0)).loss)

    assert loss(4.0, 1.0, 1) != pytest.approx(loss(1.0, 1.0, 1), rel=1e-3)
    assert loss(4.0, 1.0, 0) == pytest.approx(loss(1.0, 1.0, 0), rel=1e-6)  # no split click
    # Clicks, not a merged box: their corrections (rounds drawn from 0..3) keep weight 1.
    assert loss(4.0, 0.0, 0, corrections=3) == pytest.approx(loss(1.0, 0.0, 0, 3), rel=1e-6)


def test_the_answer_to_a_tracked_frame_correction_can_weigh_more():
    # tracked_correction_weight scales the answer to the click on a tracked frame, and only that.
    model = build_model(get_config("demo"), image_size=SIZE).eval()
    batch = clip_batch(_stacks(), 3, 2, SIZE, np.random.default_rng(4))

    def loss(weight: float, p_correct: float) -> float:
        recipe = PromptRecipe(
            p_mask=0.0, p_correct_tracked=p_correct, tracked_correction_weight=weight
        )
        with torch.no_grad():
            return float(clip_step(model, batch, recipe, np.random.default_rng(0)).loss)

    assert loss(4.0, 1.0) != pytest.approx(loss(1.0, 1.0), rel=1e-3)
    assert loss(4.0, 0.0) == pytest.approx(loss(1.0, 0.0), rel=1e-6)  # no tracked correction
