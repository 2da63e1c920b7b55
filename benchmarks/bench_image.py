"""Seconds per 1024 x 1024 image encoding and per prompt decode; peak memory.

    python benchmarks/bench_image.py [--preset sam2.1_hiera_tiny] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import describe_machine, median_seconds, peak_rss_mb, standin_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="sam2.1_hiera_tiny")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from napari_sam2 import ImagePredictor

    predictor = ImagePredictor(standin_model(args.preset))
    frame = np.random.default_rng(0).integers(0, 255, size=(1024, 1024), dtype=np.uint8)
    predictor.set_image(frame)  # warm-up
    encode = median_seconds(lambda: predictor.set_image(frame), args.repeats)
    decode = median_seconds(
        lambda: predictor.predict(points=[[500, 400]], labels=[1]), 5 * args.repeats
    )
    print(f"{args.preset} on CPU ({describe_machine()}), float32, median of {args.repeats}")
    print(f"  image encoding : {encode:.3f} s per 1024x1024 image")
    print(f"  prompt decode  : {decode * 1000:.1f} ms per click (3 candidates, frame size masks)")
    print(f"  peak RSS       : {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
