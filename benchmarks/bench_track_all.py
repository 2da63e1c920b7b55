"""Track-all cost against the number of objects: the image is encoded once a frame and
objects go through memory attention and the decoder as one batch.

    python benchmarks/bench_track_all.py [--objects 1 4 16] [--frames 8] [--side 256]
                                         [--image-size 1024] [--device cpu] [--threads 2]

Every object is a disc of a label image seeded on frame 0 (a mask prompt);
the stack is then propagated. Prints seconds per frame (the image encoding
included) and the cost per object; stand-in weights, timings only. On a GPU:
``--objects 1 10 100 --device cuda``.

On a shared 2-core CPU (loaded by other jobs, so noisy), ``--image-size 256``:
1 object 4.8 s/frame, 4 objects 3.7 s/frame, 16 objects 8.9 s/frame (0.56 s
per object). At input 1024 one object took 15.8 s/frame there; memory
attention at 1024 is large per object, so on a CPU the per-object part
dominates sooner.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import describe_machine, standin_model


def stack_and_seeds(n: int, frames: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` small discs on a grid drifting right, and their labels on frame 0."""
    grid = int(np.ceil(np.sqrt(n)))
    step = side / grid
    r = max(2.0, step * 0.3)
    yy, xx = np.mgrid[:side, :side]
    image = np.full((frames, side, side), 200, np.uint16)
    seeds = np.zeros((side, side), np.uint16)
    for t in range(frames):
        for i in range(n):
            cy, cx = (i // grid + 0.5) * step, (i % grid + 0.5) * step + 0.5 * t
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            image[t][disc] = 3000
            if t == 0:
                seeds[disc] = i + 1
    return image, seeds


def run(model, n: int, frames: int, side: int) -> float:
    from napari_sam2.engine.seeding import seed_from_labels
    from napari_sam2.engine.session import VideoSession

    image, seeds = stack_and_seeds(n, frames, side)
    session = VideoSession(model, image, non_overlap=True)
    seed_from_labels(session, 0, seeds)
    assert len(session.obj_ids) == n
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in session.propagate(0):
        pass
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / (frames - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--image-size", type=int, default=1024)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = standin_model(image_size=args.image_size).to(args.device).eval()
    print(describe_machine())
    print(f"{args.frames} frames of {args.side} x {args.side}, model input {args.image_size}, "
          f"{args.device}")
    run(model, 1, 2, args.side)  # warm-up
    base = None
    for n in args.objects:
        per_frame = run(model, n, args.frames, args.side)
        base = base or per_frame
        print(f"{n:4d} objects: {per_frame:7.3f} s/frame, {per_frame / n:7.4f} s/frame per "
              f"object, {per_frame / base:5.2f}x the first")


if __name__ == "__main__":
    main()
