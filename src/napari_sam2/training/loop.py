"""The training loop: AdamW with warm-up and cosine decay, checkpoints, resume, loss log.

Checkpoints are in the official layout ``{"model": state_dict, ...}`` (the
loader reads the ``"model"`` entry), with the optimizer, the step and the
random state beside it so a run resumes where it stopped
(``<out>/last.pt``). Every logged step is one JSON line in
``<out>/loss_log.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from napari_sam2.checkpoints.loading import load_weights
from napari_sam2.checkpoints.reading import read_state_dict
from napari_sam2.model import build_model, get_config
from napari_sam2.model.sam2 import SAM2Model
from napari_sam2.training.config import TrainConfig
from napari_sam2.training.data import clip_batch, image_batch
from napari_sam2.training.steps import StepResult, clip_step, image_step

LAST = "last.pt"
LOG = "loss_log.jsonl"
FLOAT16_MIN_NUMEL = 4096  # smaller tensors stay float32 in an exported file (a few kB)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``lr * min_lr_ratio``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: SAM2Model, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay only on linear and convolution weights (not norms, biases, tokens,
    tables)."""
    matmul_weights = {
        id(m.weight)
        for m in model.modules()
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))
    }
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = id(p) in matmul_weights
        enc = name.startswith("image_encoder.")
        groups.setdefault((decay, enc), []).append(p)
    param_groups = [
        {
            "params": ps,
            "weight_decay": cfg.weight_decay if decay else 0.0,
            "lr_scale": cfg.image_encoder_lr_scale if enc else 1.0,
        }
        for (decay, enc), ps in groups.items()
    ]
    return torch.optim.AdamW(param_groups, lr=cfg.lr, betas=(0.9, 0.999))


def step_kind(step: int, cfg: TrainConfig, rng: np.random.Generator) -> str:
    if step < cfg.image_phase * cfg.steps or cfg.clip_fraction == 0:
        return "image"
    return "clip" if rng.random() < cfg.clip_fraction else "image"


def export_model(model: SAM2Model, path: str | Path, float16: bool = True) -> Path:
    """Write ``{"model": state_dict}``; large tensors as float16 (``load_state_dict`` casts
    back)."""
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if float16 and v.is_floating_point() and v.numel() >= FLOAT16_MIN_NUMEL:
            v = v.half()
        state[k] = v.clone()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_save({"model": state}, path)
    return path


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _autocast(cfg: TrainConfig, device: torch.device):
    if cfg.dtype == "bfloat16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def build_training_model(cfg: TrainConfig, init_checkpoint: str | Path | None = None) -> SAM2Model:
    """The model to train: random weights, or ``init_checkpoint`` (fine-tuning)."""
    model = build_model(get_config(cfg.model), image_size=cfg.image_size)
    if init_checkpoint is not None:
        load_weights(model, init_checkpoint)
    model.to(cfg.device).train()
    if cfg.freeze_image_encoder:
        model.image_encoder.requires_grad_(False)
    return model


def train(
    cfg: TrainConfig,
    source,
    out_dir: str | Path,
    *,
    init_checkpoint: str | Path | None = None,
    resume: bool = True,
    export: str | Path | None = None,
    progress: bool = True,
    max_seconds: float | None = None,
    log=None,
) -> SAM2Model:
    """Train a model on ``source`` (``.get(rng) -> list[LabelledStack]``); returns it.

    Checkpoints go to ``out_dir/last.pt`` every ``cfg.checkpoint_every_s`` and at
    the end; an existing one is resumed when ``resume``. ``export`` writes the
    finished model as a float16 ``{"model": state_dict}`` file.
    ``max_seconds`` stops early (after a checkpoint) so a run can be continued.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = build_training_model(cfg, init_checkpoint)
    high_res = list(model.sam_mask_decoder.conv_s0.parameters()) + list(
        model.sam_mask_decoder.conv_s1.parameters()
    )
    warm_high_res = cfg.high_res_warmup_steps if init_checkpoint is None else 0
    if warm_high_res:
        with torch.no_grad():
            for p in high_res:
                p.zero_()
    opt = make_optimizer(model, cfg)
    step, elapsed_before, cpu_before = 0, 0.0, 0.0

    last = out_dir / LAST
    if resume and last.is_file():
        ckpt = torch.load(last, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step = int(ckpt["step"])
        elapsed_before = float(ckpt.get("elapsed_s", 0.0))
        cpu_before = float(ckpt.get("cpu_s", 0.0))
        extra = json.loads(ckpt.get("state_json", "{}"))
        if "rng" in extra:
            rng.bit_generator.state = extra["rng"]
        if "source" in extra and hasattr(source, "next_seed"):
            source.next_seed = max(source.next_seed, extra["source"].get("next_seed", 0))
        log(f"resumed {last} at step {step}/{cfg.steps}")

    def save() -> None:
        state = {
            "rng": rng.bit_generator.state,
            "source": source.state(),
            "train_config": cfg.as_dict(),
        }
        _atomic_save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "elapsed_s": elapsed_before + time.perf_counter() - t_start,
                "cpu_s": cpu_before + time.process_time() - c_start,
                "model_preset": cfg.model,
                "state_json": json.dumps(state),
            },
            last,
        )

    t_start, c_start = time.perf_counter(), time.process_time()
    t_ckpt = t_start
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, mininterval=5.0, desc="train")
    window: list[StepResult] = []
    with open(out_dir / LOG, "a") as log_file:
        while step < cfg.steps:
            kind = step_kind(step, cfg, rng)
            stacks = source.get(rng)
            size = model.cfg.image_size
            lr = lr_at(step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr * g["lr_scale"]
            t0 = time.perf_counter()
            with _autocast(cfg, device):
                if kind == "image":
                    batch = image_batch(
                        stacks,
                        cfg.images_per_batch,
                        cfg.objects_per_image,
                        size,
                        rng,
                        p_zoom=cfg.p_zoom,
                        p_touching=cfg.p_touching,
                    )
                    batch.images, batch.targets = batch.images.to(device), batch.targets.to(device)
                    res = image_step(
                        model, batch, cfg.prompts, rng, cfg.weights, cfg.freeze_image_encoder
                    )
                else:
                    batch = clip_batch(
                        stacks,
                        cfg.clip_length,
                        cfg.clip_objects,
                        size,
                        rng,
                        p_leaving=cfg.p_leaving,
                        min_absent=cfg.min_absent,
                    )
                    batch.frames, batch.targets = batch.frames.to(device), batch.targets.to(device)
                    res = clip_step(
                        model, batch, cfg.prompts, rng, cfg.weights, cfg.freeze_image_encoder
                    )
            opt.zero_grad(set_to_none=True)
            if not torch.isfinite(res.loss):
                log(f"step {step + 1}: non-finite loss ({kind}), skipped")
                step += 1
                bar.update(1)
                continue
            res.loss.backward()
            if step < warm_high_res:
                for p in high_res:
                    p.grad = None  # AdamW leaves parameters without gradient untouched
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            bar.update(1)
            record = {
                "step": step,
                "kind": kind,
                "loss": round(float(res.loss.detach()), 5),
                "iou": round(res.iou, 4),
                "lr": lr,
                "step_s": round(time.perf_counter() - t0, 3),
                "elapsed_s": round(elapsed_before + time.perf_counter() - t_start, 1),
                "cpu_s": round(cpu_before + time.process_time() - c_start, 1),
                **{k: round(v, 5) for k, v in res.parts.items()},
            }
            log_file.write(json.dumps(record) + "\n")
            window.append(res)
            if step % cfg.log_every == 0 or step == cfg.steps:
                log_file.flush()
                mean_loss = np.mean([float(r.loss.detach()) for r in window])
                mean_iou = np.mean([r.iou for r in window])
                log(
                    f"step {step}/{cfg.steps} {kind:5s} loss {mean_loss:.4f} iou {mean_iou:.3f} "
                    f"lr {lr:.2e} {record['step_s']:.2f}s/step "
                    f"elapsed {record['elapsed_s']:.0f}s cpu {record['cpu_s']:.0f}s"
                )
                window = []
            now = time.perf_counter()
            if now - t_ckpt >= cfg.checkpoint_every_s:
                save()
                t_ckpt = now
            if max_seconds is not None and now - t_start >= max_seconds:
                log(
                    f"stopping after {now - t_start:.0f}s at step {step} "
                    "(resume with the same command)"
                )
                break
    bar.close()
    save()
    model.eval()
    if step >= cfg.steps:
        _atomic_save({"model": model.state_dict()}, out_dir / "final.pt")
        if export is not None:
            path = export_model(model, export)
            log(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return model


def load_trained(path: str | Path, preset: str = "demo") -> SAM2Model:
    """A model of ``preset`` with the weights of a training checkpoint or export (eval mode)."""
    model = build_model(get_config(preset))
    model.load_state_dict(read_state_dict(path))
    return model.eval()
