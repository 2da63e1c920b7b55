"""Batch throughput: stacks per hour on a dask LocalCluster of 1 and 2 workers,
and what the cluster costs against segmenting the same stacks in a plain loop.

Stand-in weights (timings only). Every variant starts cold, as a user's
command does: the loop loads the model once, the batch starts its cluster
and loads the model once per worker. Small by default so that it runs in a
few minutes on a laptop CPU; raise --stacks/--frames/--size for real figures.

    python benchmarks/bench_batch.py [--stacks 6] [--frames 6] [--size 96] [--image-size 128]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
from _common import describe_machine


def make_stacks(root: Path, count: int, frames: int, size: int) -> tuple[list[Path], Path]:
    """``count`` stacks of a drifting disc, and a prompts folder clicking each disc on frame 0."""
    prompts = root / "prompts"
    prompts.mkdir(parents=True)
    yy, xx = np.mgrid[:size, :size]
    stacks = []
    for i in range(count):
        x0, y0, r = size // 3 + i % 5, size // 2, size // 8
        data = np.stack([((xx - x0 - 2 * t) ** 2 + (yy - y0) ** 2 < r * r) * 3000 + 100
                         for t in range(frames)]).astype(np.uint16)
        path = root / f"stack{i:03d}.tif"
        tifffile.imwrite(path, data, photometric="minisblack")
        (prompts / f"{path.stem}.json").write_text(json.dumps(
            {"version": 1, "prompts": [{"frame": 0, "object": 1, "points": [[x0, y0]]}]}))
        stacks.append(path)
    return stacks, prompts


def plain_loop(stacks, prompts: Path, out: Path, model_settings, threads: int) -> dict:
    """What `napari-sam2 segment` does per stack, in one process, the model loaded once."""
    import torch

    from napari_sam2.engine.frames import open_frames
    from napari_sam2.engine.prompt_file import read_prompts
    from napari_sam2.engine.runner import SegmentOptions, segment_stack
    from napari_sam2.export import write_label_stack

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = model_settings.load()
    t1 = time.perf_counter()
    out.mkdir(parents=True)
    for stack in stacks:
        records = read_prompts(prompts / f"{stack.stem}.json")
        labels = segment_stack(model, open_frames(stack), records, SegmentOptions())
        write_label_stack(out / stack.name, labels)
    t2 = time.perf_counter()
    return {"load": t1 - t0, "stacks": t2 - t1, "total": t2 - t0}


def cluster_start(workers: int, threads: int) -> float:
    """Seconds to start a LocalCluster of ``workers`` and give them the model cache."""
    from napari_sam2.batch.driver import ClusterSettings, _connect
    from napari_sam2.batch.options import ModelSettings

    t0 = time.perf_counter()
    with _connect(ClusterSettings(workers=workers, torch_threads=threads,
                                  dashboard_address=":0"), ModelSettings()):
        elapsed = time.perf_counter() - t0
    return elapsed


def batch(stacks, prompts: Path, out: Path, model_settings, workers: int, threads: int) -> dict:
    from napari_sam2.batch.driver import ClusterSettings, run

    t0 = time.perf_counter()
    report = run(stacks, out, prompts_dir=prompts, model=model_settings, progress=False,
                 cluster=ClusterSettings(workers=workers, torch_threads=threads,
                                         dashboard_address=":0"))
    total = time.perf_counter() - t0
    assert report.ok, report.summary()
    busy = sum(e.seconds for e in report.entries.values())
    return {"total": total, "task_seconds": busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=6)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--size", type=int, default=96, help="frame height and width")
    parser.add_argument("--image-size", type=int, default=128, help="model input size")
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    args = parser.parse_args()

    from napari_sam2.batch.options import ModelSettings
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        checkpoint = write_standin_checkpoint(args.model, root / "standin.pt")
        model_settings = ModelSettings(args.model, str(checkpoint), "cpu", args.image_size)
        stacks, prompts = make_stacks(root / "data", args.stacks, args.frames, args.size)
        n = len(stacks)
        print(f"{n} stacks of {args.frames} x {args.size} x {args.size}, {args.model} at "
              f"{args.image_size}, CPU, {cores} cores; {describe_machine()}")

        loop = plain_loop(stacks, prompts, root / "loop", model_settings, cores)
        rows = [("plain loop (1 process)", loop["total"],
                 f"model load {loop['load']:.1f} s, stacks {loop['stacks']:.1f} s")]
        for workers in (1, 2):
            threads = max(1, cores // workers)
            start = cluster_start(workers, threads)
            res = batch(stacks, prompts, root / f"batch{workers}", model_settings, workers,
                        threads)
            rows.append((f"batch, {workers} worker(s) x {threads} thread(s)", res["total"],
                         f"cluster start {start:.1f} s, overhead vs loop "
                         f"{res['total'] - loop['total']:+.1f} s "
                         f"({(res['total'] - loop['total']) / n:+.2f} s/stack), "
                         f"task time {res['task_seconds']:.1f} s"))
        print(f"{'variant':<34} {'wall s':>7} {'stacks/hour':>12}")
        for name, wall, note in rows:
            print(f"{name:<34} {wall:7.1f} {n / wall * 3600:12.0f}   {note}")


if __name__ == "__main__":
    main()
