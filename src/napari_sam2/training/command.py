"""``napari-sam2 train``: the options and what they do (the CLI module only wires them)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from napari_sam2.training.config import TrainConfig
from napari_sam2.training.data import (
    FixedSource,
    GeneratorSource,
    LabelledStack,
    load_ctc,
    load_tiff_pair,
)

# The --recipe names: the demo model's stages (docs/training.md) and fine-tuning.
RECIPES = {
    "demo": TrainConfig.demo,
    "demo-refine": TrainConfig.demo_refine,
    "demo-polish": TrainConfig.demo_polish,
    "demo-touching": TrainConfig.demo_touching,
    "demo-corrections": TrainConfig.demo_corrections,
    "demo-split": TrainConfig.demo_split,
    "demo-mixed": TrainConfig.demo_mixed,
    "demo-settle": TrainConfig.demo_settle,
    "demo-keep": TrainConfig.demo_keep,
    "finetune": TrainConfig.finetune,
}


def demo_specs() -> list:
    """The synthetic stacks the demo model trains on: every generator preset, 8 and 16 bit."""
    from napari_sam2.engine.synthetic import StackSpec

    names = [
        "timelapse",
        "timelapse",
        "zstack",
        "zstack",
        "dense",
        "sparse_small",
        "noisy",
        "debris",
        "occluded",
        "hard",
        "dense_zstack",
    ]
    return [StackSpec.preset(n, frames=16, dtype=d) for n in names for d in ("uint16", "uint8")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("training data (any mix)")
    data.add_argument(
        "--generator",
        action="store_true",
        help="synthetic fluorescence stacks (training seeds >= 1000)",
    )
    data.add_argument(
        "--pair",
        nargs=2,
        action="append",
        type=Path,
        default=[],
        metavar=("IMAGE", "LABELS"),
        help="a TIFF image stack and its label stack (ids persist over frames); repeatable",
    )
    data.add_argument(
        "--ctc",
        action="append",
        type=Path,
        default=[],
        metavar="FOLDER",
        help="a Cell Tracking Challenge dataset folder (01/, 01_GT/, 01_ST/); repeatable",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="run folder: last.pt (resumable checkpoint), final.pt, loss_log.jsonl",
    )
    p.add_argument(
        "--recipe",
        choices=list(RECIPES),
        help="preset schedule: demo (from random weights), demo-refine, demo-polish, "
        "demo-touching, demo-corrections, demo-split, demo-mixed, demo-settle and demo-keep "
        "(the demo model's later stages, from "
        "--checkpoint) or finetune (default: finetune with --checkpoint, else demo)",
    )
    p.add_argument(
        "--model", help="model preset to train (default: demo; finetune: sam2.1_hiera_tiny)"
    )
    p.add_argument(
        "--checkpoint", type=Path, help="initial weights (fine-tuning a real checkpoint)"
    )
    p.add_argument("--steps", type=int, help="optimizer steps")
    p.add_argument("--lr", type=float, help="peak learning rate")
    enc = p.add_mutually_exclusive_group()
    enc.add_argument(
        "--freeze-image-encoder",
        dest="freeze",
        action="store_true",
        default=None,
        help="train everything but the image encoder (default for finetune)",
    )
    enc.add_argument(
        "--train-image-encoder",
        dest="freeze",
        action="store_false",
        help="train the image encoder too (default for demo)",
    )
    p.add_argument(
        "--image-size", type=int, metavar="PX", help="reduced input size of the model preset"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument(
        "--precision",
        choices=["float32", "bfloat16"],
        default="float32",
        help="bfloat16 autocast (weights stay float32)",
    )
    p.add_argument(
        "--seed", type=int, default=1000, help="random seed, also the first generator seed"
    )
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--export", type=Path, help="write the finished model here as float16 {'model': ...}"
    )
    p.add_argument(
        "--max-minutes", type=float, help="stop after this long (resume with the same command)"
    )
    p.add_argument(
        "--checkpoint-minutes", type=float, default=5.0, help="minutes between checkpoints"
    )
    p.add_argument(
        "--no-resume", action="store_true", help="start afresh even if OUT/last.pt exists"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _stacks(args) -> list[LabelledStack]:
    stacks: list[LabelledStack] = []
    for image, labels in args.pair:
        stacks.append(load_tiff_pair(image, labels))
    for folder in args.ctc:
        stacks.extend(load_ctc(folder))
    return stacks


class _MixedSource:
    """The generator's pool plus fixed stacks."""

    def __init__(self, gen: GeneratorSource, fixed: list[LabelledStack]) -> None:
        self.gen, self.fixed = gen, fixed

    def get(self, rng):
        return self.gen.get(rng) + self.fixed

    def state(self) -> dict:
        return self.gen.state()

    @property
    def next_seed(self) -> int:
        return self.gen.next_seed

    @next_seed.setter
    def next_seed(self, value: int) -> None:
        self.gen.next_seed = value


def run(args) -> None:
    from napari_sam2.training.loop import train

    if not args.generator and not args.pair and not args.ctc:
        raise ValueError("no training data: give --generator, --pair IMAGE LABELS or --ctc FOLDER")
    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {args.checkpoint}")
    recipe = args.recipe or ("finetune" if args.checkpoint is not None else "demo")
    overrides = {
        "device": args.device,
        "dtype": args.precision,
        "seed": args.seed,
        "checkpoint_every_s": 60.0 * args.checkpoint_minutes,
    }
    for key, value in (
        ("model", args.model),
        ("steps", args.steps),
        ("lr", args.lr),
        ("freeze_image_encoder", args.freeze),
        ("image_size", args.image_size),
    ):
        if value is not None:
            overrides[key] = value
    cfg = RECIPES[recipe](**overrides)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    fixed = _stacks(args)
    if args.generator:
        gen = GeneratorSource(demo_specs(), seed=args.seed, pool=8, refresh=2)
        source = _MixedSource(gen, fixed) if fixed else gen
    else:
        source = FixedSource(fixed)
        if not any(s.linked and len(s.image) >= cfg.clip_length for s in fixed):
            print(
                f"no stack has {cfg.clip_length}+ frames with linked ids: image batches only",
                file=sys.stderr,
            )
            cfg = replace(cfg, clip_fraction=0.0)
    args.out.mkdir(parents=True, exist_ok=True)
    run_info = {
        "command": " ".join(sys.argv),
        "config": cfg.as_dict(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "threads": torch.get_num_threads(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    with open(args.out / "run.json", "a") as f:
        f.write(json.dumps(run_info) + "\n")
    print(
        f"training {cfg.model} for {cfg.steps} steps on {cfg.device} ({cfg.dtype}), "
        f"{torch.get_num_threads()} thread(s); run folder {args.out}",
        file=sys.stderr,
    )
    train(
        cfg,
        source,
        args.out,
        init_checkpoint=args.checkpoint,
        resume=not args.no_resume,
        export=args.export,
        progress=not args.no_progress,
        max_seconds=None if args.max_minutes is None else 60.0 * args.max_minutes,
    )
