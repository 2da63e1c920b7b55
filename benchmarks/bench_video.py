"""Video session speed and memory on a memmapped 512 x 512 uint16 stack.

    python benchmarks/bench_video.py speed  [--frames 6] [--threads 2]
    python benchmarks/bench_video.py memory [--frames 50 200] [--image-size 1024]
                                            [--budget-mb 256] [--cache-mb 256]

``speed``: seconds per propagated frame, the latency of a click on a frame
whose features are cached, and re-propagation after that refinement.
``memory``: peak RSS after N propagated frames of one object, with the
session's RAM budgets set small to show they hold.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import describe_machine, peak_rss_mb, rss_anon_mb, standin_model


def memmap_stack(path: Path, frames: int, side: int = 512) -> np.memmap:
    """A drifting bright blob on noise, written frame by frame in a child process
    (so writing it does not count towards this process's memory), opened read-only."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); " \
           f"import bench_video as b; b._write_stack({str(path)!r}, {frames}, {side})"
    subprocess.run([sys.executable, "-c", code], check=True)
    return np.load(path, mmap_mode="r")


def _write_stack(path: str, frames: int, side: int) -> None:
    stack = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(frames, side, side))
    yy, xx = np.mgrid[:side, :side]
    rng = np.random.default_rng(0)
    for t in range(frames):
        frame = rng.integers(200, 400, size=(side, side), dtype=np.uint16)
        cx = side // 3 + (t % 100)
        frame[(yy - side // 2) ** 2 + (xx - cx) ** 2 < 40**2] += 3000
        stack[t] = frame
    stack.flush()


def speed(args) -> None:
    from napari_sam2 import VideoSession

    with tempfile.TemporaryDirectory() as tmp:
        stack = memmap_stack(Path(tmp) / "stack.npy", args.frames + 1)
        session = VideoSession(standin_model(image_size=args.image_size), stack)
        t0 = time.perf_counter()
        session.add_points(0, 1, [[170, 256]], [1])
        first_click = time.perf_counter() - t0
        t0 = time.perf_counter()
        n = sum(1 for _ in session.propagate(start=0)) - 1  # frame 0 is the prompt
        per_frame = (time.perf_counter() - t0) / n
        mid = args.frames // 2
        t0 = time.perf_counter()
        session.add_points(mid, 1, [[200, 256]], [1], clear=False)
        click = time.perf_counter() - t0
        t0 = time.perf_counter()
        session.add_points(mid, 1, [[150, 256]], [0], clear=False)
        second_click = time.perf_counter() - t0
        t0 = time.perf_counter()
        k = sum(1 for _ in session.propagate(start=mid)) - 1
        repro = (time.perf_counter() - t0) / max(k, 1)
        # What the napari plugin does while the user looks at a slice, then the click.
        last = args.frames
        t0 = time.perf_counter()
        session.prepare(last, 1)
        prepare = time.perf_counter() - t0
        t0 = time.perf_counter()
        session.add_points(last, 1, [[210, 256]], [1], clear=False)
        prepared_click = time.perf_counter() - t0
    print(f"tiny @ {args.image_size} on CPU ({describe_machine()}), float32, stand-in weights")
    print(f"  first click (encode + decode)          : {first_click:.2f} s")
    print(f"  propagation                            : {per_frame:.2f} s per frame ({n} frames)")
    print(f"  refinement click on a tracked frame    : {click:.2f} s (features cached)")
    print(f"  a second click on that frame           : {second_click:.2f} s (conditioning reused)")
    print(
        f"  re-propagation after it                : {repro:.2f} s per frame ({k} frames, cached)"
    )
    print(f"  prepare() of a tracked frame           : {prepare:.2f} s (plugin: in the background)")
    print(f"  then a refinement click there          : {prepared_click:.2f} s")
    print(f"  peak RSS                               : {peak_rss_mb():.0f} MiB")


def memory(args) -> None:
    from napari_sam2 import VideoSession

    total = max(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        stack = memmap_stack(Path(tmp) / "stack.npy", total)
        model = standin_model(args.preset, image_size=args.image_size)
        session = VideoSession(
            model, stack, cache_bytes=args.cache_mb << 20, memory_budget_bytes=args.budget_mb << 20,
            spill_dir=Path(tmp) / "spill",
        )
        session.add_points(0, 1, [[170, 256]], [1])
        print(f"{args.preset} @ {args.image_size}, budgets: features {args.cache_mb} MiB, "
              f"memories {args.budget_mb} MiB ({describe_machine()})")
        t0 = time.perf_counter()
        for i, _ in enumerate(session.propagate(), start=1):
            if i in args.frames:
                print(f"  after {i:5d} frames: peak RSS {peak_rss_mb():7.0f} MiB, "
                      f"private {rss_anon_mb():6.0f} MiB, "
                      f"memory store {session.bank.store.nbytes / 2**20:6.1f} MiB in RAM, "
                      f"{(time.perf_counter() - t0) / i:.2f} s/frame")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("mode", choices=["speed", "memory"])
    ap.add_argument("--frames", type=int, nargs="+", default=None)
    ap.add_argument("--preset", default="sam2.1_hiera_tiny")
    ap.add_argument("--image-size", type=int, default=1024)
    ap.add_argument("--budget-mb", type=int, default=256)
    ap.add_argument("--cache-mb", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "speed":
        args.frames = (args.frames or [6])[0]
        speed(args)
    else:
        args.frames = args.frames or [50, 200]
        memory(args)


if __name__ == "__main__":
    main()
