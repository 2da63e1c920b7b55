"""SAM 2 on a GPU: float32 against bfloat16, per preset.

    python benchmarks/bench_gpu.py [--presets sam2.1_hiera_tiny sam2.1_hiera_large]
                                   [--frames 40] [--device cuda]

Prints, per preset and precision: milliseconds per 1024 x 1024 image
encoding and per click on an encoded image, propagation in frames per
second through a memmapped 512 x 512 uint16 stack (one object, results
copied to the host each frame, as the plugin uses them), a refinement click
on a tracked frame, peak GPU memory, and how far bfloat16's masks are from
float32's (mean |logit difference|, IoU of the binarised masks).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import median_seconds, standin_model
from bench_video import memmap_stack


def _synced(fn, device: torch.device):
    def run():
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return run


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def run_preset(
    preset: str, precision: str, stack: np.ndarray, device: torch.device
) -> tuple[dict, list]:
    from napari_sam2 import ImagePredictor, VideoSession, set_precision

    model = set_precision(standin_model(preset).to(device), precision)
    predictor = ImagePredictor(model)
    frame = np.asarray(stack[0])
    predictor.set_image(frame)  # warm-up (kernels, cuDNN choices)
    figures = {
        "encode_ms": 1000 * median_seconds(_synced(lambda: predictor.set_image(frame), device), 10),
        "click_ms": 1000 * median_seconds(
            _synced(lambda: predictor.predict(points=[[170, 256]], labels=[1]), device), 20),
    }
    warm_up = VideoSession(model, stack[:8])  # first calls of each kernel are slow
    warm_up.add_points(0, 1, [[170, 256]], [1])
    for _ in warm_up.propagate(start=0):
        pass
    del warm_up
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    session = VideoSession(model, stack)
    session.add_points(0, 1, [[170, 256]], [1])
    t0 = time.perf_counter()
    logits = [r.low_res_logits[0] for r in session.propagate(start=0)]
    figures["fps"] = (len(logits) - 1) / (time.perf_counter() - t0)
    mid = len(logits) // 2
    t0 = time.perf_counter()
    session.add_points(mid, 1, [[200, 256]], [1], clear=False)
    figures["refine_ms"] = 1000 * (time.perf_counter() - t0)
    if device.type == "cuda":
        figures["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return figures, logits


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--presets", nargs="+", default=["sam2.1_hiera_tiny", "sam2.1_hiera_large"])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(
        f"{name}, torch {torch.__version__}, stand-in weights, "
        f"{args.frames} frames of 512x512 uint16"
    )
    with tempfile.TemporaryDirectory() as tmp:
        stack = memmap_stack(Path(tmp) / "stack.npy", args.frames)
        for preset in args.presets:
            ref_logits = None
            for precision in ("float32", "bfloat16"):
                f, logits = run_preset(preset, precision, stack, device)
                line = (f"{preset:<20s} {precision:<8s}: encode {f['encode_ms']:6.1f} ms, "
                        f"click {f['click_ms']:5.1f} ms, propagation {f['fps']:5.1f} frames/s, "
                        f"refinement click {f['refine_ms']:6.1f} ms")
                if "peak_gib" in f:
                    line += f", peak GPU memory {f['peak_gib']:.2f} GiB"
                if ref_logits is None:
                    ref_logits = logits
                else:
                    d = max(float(np.abs(a - b).mean()) for a, b in zip(logits, ref_logits))
                    iou = min(_iou(a > 0, b > 0) for a, b in zip(logits, ref_logits))
                    line += f"; vs float32: mean|dlogit| <= {d:.3f}, IoU >= {iou:.3f}"
                print(line, flush=True)


if __name__ == "__main__":
    main()
