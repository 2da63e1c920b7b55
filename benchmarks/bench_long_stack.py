"""Long-stack mode (memory tree) cost: seconds per frame and peak memory.

    python benchmarks/bench_long_stack.py [--frames 8] [--image-size 1024] [--threads 2]

Each configuration runs in its own process (so peak RSS is its own): plain
SAM 2, then the memory tree with P = 1, 2, 3 pathways for one object, then
1 and 5 objects at P = 3. Prints seconds per tracked frame, peak RSS, how
often the image encoder ran per frame (it must be once, whatever P), and
how many batched decoder calls a frame took (one per memory structure, not
one per pathway).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def stack(frames: int, side: int = 512, objects: int = 1) -> np.ndarray:
    """Bright discs drifting over noise, one per object."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side]
    out = rng.integers(200, 400, size=(frames, side, side)).astype(np.uint16)
    for t in range(frames):
        for k in range(objects):
            cy, cx = 80 + 90 * k % (side - 160), 100 + 6 * t
            out[t][(yy - cy) ** 2 + (xx - cx) ** 2 < 30**2] += 3000
    return out


def run_one(frames: int, image_size: int, pathways: int, objects: int, threads: int) -> dict:
    import torch
    from _common import peak_rss_mb, standin_model

    from napari_sam2.engine.memory_tree import MemoryTree
    from napari_sam2.engine.session import VideoSession

    torch.set_num_threads(threads)
    model = standin_model(image_size=image_size)
    calls = {"encode": 0, "decode": 0}
    encode, segment = model.encode_image, model.segment

    def counting(name, fn):
        def wrapped(*a, **k):
            calls[name] += 1
            return fn(*a, **k)

        return wrapped

    model.encode_image = counting("encode", encode)
    model.segment = counting("decode", segment)
    tree = None if pathways == 0 else MemoryTree(pathways=pathways)
    data = stack(frames, objects=objects)
    session = VideoSession(model, data, memory_tree=tree)
    for k in range(objects):
        session.add_points(0, k + 1, [[100, 80 + 90 * k % (512 - 160)]], [1])
    calls.update(encode=0, decode=0)
    t0 = time.perf_counter()
    results = list(session.propagate())
    seconds = time.perf_counter() - t0
    tracked = frames - 1
    return {
        "pathways": pathways,
        "objects": objects,
        "s_per_frame": seconds / tracked,
        "peak_rss_mb": peak_rss_mb(),
        "encodes_per_frame": calls["encode"] / tracked,
        "decoder_batches_per_frame": calls["decode"] / tracked,
        "results": len(results),
        "stored_entries": session.bank.num_stored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # "pathways,objects": run in this process
    args = parser.parse_args()
    if args.one:
        p, o = (int(x) for x in args.one.split(","))
        print(json.dumps(run_one(args.frames, args.image_size, p, o, args.threads)))
        return
    configs = [(0, 1), (1, 1), (2, 1), (3, 1), (3, 5)]
    print(
        f"tiny, stand-in weights, input {args.image_size}, {args.frames} frames, "
        f"{args.threads} threads"
    )
    print(
        f"{'mode':<14}{'objects':>8}{'s/frame':>9}{'peak RSS MiB':>14}{'encodes/frame':>15}"
        f"{'decoder batches/frame':>23}{'stored memories':>17}"
    )
    for p, o in configs:
        cmd = [
            sys.executable,
            str(Path(__file__)),
            "--one",
            f"{p},{o}",
            "--frames",
            str(args.frames),
            "--image-size",
            str(args.image_size),
            "--threads",
            str(args.threads),
        ]
        r = json.loads(
            subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE).stdout
        )
        mode = "plain SAM 2" if p == 0 else f"tree P={p}"
        print(
            f"{mode:<14}{o:>8}{r['s_per_frame']:>9.2f}{r['peak_rss_mb']:>14.0f}{r['encodes_per_frame']:>15.2f}"
            f"{r['decoder_batches_per_frame']:>23.2f}{r['stored_entries']:>17}"
        )


if __name__ == "__main__":
    main()
