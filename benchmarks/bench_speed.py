"""Speed, memory and parity of exact and fast mode against the reference, in one run.

    PYTHONPATH=src:benchmarks python benchmarks/bench_speed.py [--frames 6] [--rounds 3]
        [--threads 2] [--image-size 1024] [--objects 1 4] [--no-reference]
        [--preset sam2.1_hiera_tiny]

Three variants on the CPU, with the same stand-in weights: the reference
(official SAM 2.1 code from a git mirror, ``_reference.py``; float32, tiny at
1024 only), ours exact (float32) and ours fast (bfloat16, only where
``cpu_supports_bfloat16()``). Each variant runs in its own child process (this
script with ``--child VARIANT``, one JSON line back), so its peak RSS is its
own; the variants alternate in every round, the order rotating, and the table
gives medians over the rounds. Per child, after a warm-up (one encode and a
two-frame session):

- encode: the image encoder on one normalised frame (random, side = input size);
- track: ``propagate`` after a click on frame 0, per propagated frame (one
  object). Ours reads and normalises each frame from the array in RAM and
  encodes it; the reference takes its frames already decoded, resized and
  normalised by ``init_state``;
- end-to-end: from the frames to all masks, per frame. Ours: ``VideoSession``
  built fresh on the uint8 RGB array in RAM, the click on frame 0, ``propagate``.
  Reference: ``init_state`` on a folder of JPEGs (its only frame input: decoding,
  resizing and normalising every frame, encoding frame 0), the click, propagation;
- clicks on a tracked frame (the middle one). Ours: features cached (as after
  propagation), features not cached (the feature cache cleared first), and
  ``prepare(frame, obj)`` then the click (on the last frame). Reference:
  ``add_new_points_or_box`` (it keeps only the last encoded frame's features, so
  the first click re-encodes: the "not cached" row), then a second click on the
  same frame (features kept, memory attention again: the "cached" row);
- re-propagation after the correction, per frame from the corrected frame;
- peak RSS of the child after the above (before the multi-object runs);
- the k-th object: ours propagates 1 and N objects (fresh sessions, clicks on
  frame 0): (t_N - t_1) / (N - 1) per frame;
- GFLOP/s: FLOPs counted once on ours (``torch.utils.flop_counter``, a child of
  its own) over the measured time, against the matmul peak of the same
  precision measured in the children (best of the rounds);
- parity of fast against exact mode (a child of its own): mask IoU and mean
  |dlogit| (clipped +-20) on the benchmark stack with stand-in weights and,
  when the packaged demo model exists, on its held-out synthetic stacks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import describe_machine, peak_rss_mb, standin_model
from bench_bfloat16 import (
    _compare,
    _flops,
    _ours_propagate,
    _run,
    benchmark_stack,
    blob_frames,
    demo_models,
    held_out_parity,
    matmul_gflops,
)

from napari_sam2.model.sam2 import SAM2Model

POINTS = [(170, 256), (400, 100), (100, 420), (420, 420), (256, 80), (80, 80), (420, 256)]
VARIANTS = ("reference", "exact", "fast")
Result = dict[str, Any]


def _t() -> float:
    return time.perf_counter()


def jpeg_frames(frames: int, folder: Path) -> np.ndarray:
    """``blob_frames`` written as JPEGs into ``folder`` and read back: every variant gets
    the same decoded pixels (the reference reads the folder, ours the array)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(blob_frames(frames)):
        Image.fromarray(frame).save(folder / f"{t:05d}.jpg", quality=95)
    return np.stack([np.asarray(Image.open(folder / f"{t:05d}.jpg")) for t in range(frames)])


def _ours_model(variant: str, args: argparse.Namespace) -> SAM2Model:
    model = standin_model(args.preset, image_size=args.image_size)
    if variant == "fast":
        model.use_compute_dtype(torch.bfloat16)
    return model


def _image(side: int) -> torch.Tensor:
    """A normalised-looking input for the encoder (its cost does not depend on the pixels)."""
    return torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(0))


def _propagated(it: Iterable) -> int:
    return sum(1 for _ in it) - 1  # the start frame is the prompted one


def child_ours(variant: str, args: argparse.Namespace, frames: np.ndarray) -> Result:
    from napari_sam2.engine.session import VideoSession

    model = _ours_model(variant, args)
    x = _image(args.image_size)
    with torch.inference_mode():  # warm-up
        model.encode_image(x)
    warm = VideoSession(model, frames[:2], rgb=True)
    warm.add_points(0, 1, [POINTS[0]], [1])
    _propagated(warm.propagate(start=0))
    del warm
    out: Result = {}
    with torch.inference_mode():
        t0 = _t()
        model.encode_image(x)
        out["encode"] = _t() - t0

    T, c = len(frames), max(1, (len(frames) - 1) // 2)
    t0 = _t()
    session = VideoSession(model, frames, rgb=True)
    session.add_points(0, 1, [POINTS[0]], [1])
    t1 = _t()
    n = _propagated(session.propagate(start=0))
    t2 = _t()
    out["track"], out["e2e"] = (t2 - t1) / n, (t2 - t0) / T
    t0 = _t()
    session.add_points(c, 1, [[200, 256]], [1], clear=False)
    out["click_cached"] = _t() - t0
    t0 = _t()
    k = _propagated(session.propagate(start=c))
    out["repro"] = (_t() - t0) / max(k, 1)
    t0 = _t()
    session.prepare(T - 1, 1)
    out["prepare"] = _t() - t0
    t0 = _t()
    session.add_points(T - 1, 1, [[210, 256]], [1], clear=False)
    out["click_prepared"] = _t() - t0
    # Back to a state where frame c is tracked, not prompted (features of 0..c cached), then
    # the feature cache cleared: the click encodes c again, as after an eviction.
    session.reset()
    session.add_points(0, 1, [POINTS[0]], [1])
    _propagated(session.propagate(start=0, max_frames=c))
    session.feature_cache.clear()
    t0 = _t()
    session.add_points(c, 1, [[200, 256]], [1], clear=False)
    out["click_uncached"] = _t() - t0
    out["rss"] = peak_rss_mb()
    del session

    per_object = {1: out["track"]}
    for n_obj in sorted(set(args.objects) - {1}):
        s = VideoSession(model, frames, rgb=True)
        for obj in range(1, n_obj + 1):
            s.add_points(0, obj, [POINTS[(obj - 1) % len(POINTS)]], [1])
        t0 = _t()
        m = _propagated(s.propagate(start=0))
        per_object[n_obj] = (_t() - t0) / m
        del s
    out["objects"] = per_object
    out["peak"] = matmul_gflops(torch.bfloat16 if variant == "fast" else torch.float32)
    return out


def child_reference(args: argparse.Namespace, frames: np.ndarray, folder: Path) -> Result:
    from _reference import reference_video_predictor

    ref = reference_video_predictor(standin_model(args.preset).state_dict())
    x = _image(1024)

    def click(state: dict, frame: int, point: Sequence[float], clear: bool = True) -> None:
        ref.add_new_points_or_box(state, frame_idx=frame, obj_id=1,
                                  points=np.array([point], np.float32),
                                  labels=np.array([1], np.int32), clear_old_points=clear)

    warm_folder = folder.parent / "warm"
    warm_folder.mkdir()
    for name in ("00000.jpg", "00001.jpg"):
        (warm_folder / name).write_bytes((folder / name).read_bytes())
    out: Result = {}
    with torch.inference_mode():
        ref.forward_image(x)  # warm-up
        state = ref.init_state(str(warm_folder))
        click(state, 0, POINTS[0])
        _propagated(ref.propagate_in_video(state))
        t0 = _t()
        ref.forward_image(x)
        out["encode"] = _t() - t0

        T, c = len(frames), max(1, (len(frames) - 1) // 2)
        t0 = _t()
        state = ref.init_state(str(folder))
        click(state, 0, POINTS[0])
        t1 = _t()
        n = _propagated(ref.propagate_in_video(state))
        t2 = _t()
        out["track"], out["e2e"] = (t2 - t1) / n, (t2 - t0) / T
        t0 = _t()
        click(state, c, [200, 256])
        out["click_uncached"] = _t() - t0
        t0 = _t()
        click(state, c, [200, 256], clear=False)
        out["click_cached"] = _t() - t0
        t0 = _t()
        k = _propagated(ref.propagate_in_video(state, start_frame_idx=c))
        out["repro"] = (_t() - t0) / max(k, 1)
    out["rss"] = peak_rss_mb()
    return out


def child_flops(args: argparse.Namespace, frames: np.ndarray) -> Result:
    model = _ours_model("exact", args)
    x = _image(args.image_size)
    with torch.inference_mode():
        encode = _flops(lambda: model.encode_image(x))
    return {"encode": encode, "track": _ours_propagate(model, frames, count=True)}


def child_parity(args: argparse.Namespace) -> Result:
    import napari_sam2

    models = [_ours_model("exact", args), _ours_model("fast", args)]
    out: Result = {"bench": _compare(*[_run(m, benchmark_stack(args.frames), {1: [170, 256]})
                                       for m in models])}
    demo = Path(napari_sam2.__file__).parent / "model_data" / "sam2_demo.pt"
    if demo.is_file():
        parity = held_out_parity(demo_models(demo), frames=12, stacks=3, cells=4)
        out["demo"] = tuple(sum((v[i] for v in parity.values()), []) for i in range(2))
    return out


def run_child(kind: str, args: argparse.Namespace) -> Result | None:
    cmd = [sys.executable, __file__, "--child", kind, "--frames", str(args.frames),
           "--threads", str(args.threads), "--image-size", str(args.image_size),
           "--preset", args.preset, "--objects", *map(str, args.objects)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        print(f"  child {kind} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", flush=True)
        return None
    return json.loads(lines[-1])


def child_main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "frames"
        frames = jpeg_frames(args.frames, folder)
        if args.child == "reference":
            out = child_reference(args, frames, folder)
        elif args.child == "flops":
            out = child_flops(args, frames)
        elif args.child == "parity":
            out = child_parity(args)
        else:
            out = child_ours(args.child, args, frames)
    print(json.dumps(out))


ROWS = [  # key, label, unit
    ("encode", "encode (s/frame)", "s"),
    ("track", "track, 1 object (s/frame)", "s"),
    ("e2e", "end-to-end, frames to masks (s/frame)", "s"),
    ("click_uncached", "click on a tracked frame, features not cached (s)", "s"),
    ("click_cached", "click on a tracked frame, features cached (s)", "s"),
    ("prepare", "prepare(frame, obj) (s)", "s"),
    ("click_prepared", "click after prepare (s)", "s"),
    ("repro", "re-propagation after the click (s/frame)", "s"),
    ("rss", "peak RSS (MiB)", "MiB"),
]


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    return f"{v:.0f}" if unit in ("MiB", "GFLOP/s") else f"{v:.3g}"


def _median(results: list[Result | None], key: str) -> float | None:
    vals = [r[key] for r in results if r is not None and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def parent(args: argparse.Namespace) -> None:
    from napari_sam2.model.precision import cpu_supports_bfloat16

    variants = ["exact"]
    if not args.no_reference:
        if args.image_size == 1024 and args.preset == "sam2.1_hiera_tiny":
            variants.insert(0, "reference")
        else:
            print("reference skipped: it runs tiny at 1024 only")
    if cpu_supports_bfloat16():
        variants.append("fast")
    else:
        print("fast mode skipped: this CPU has no bfloat16 units")
    print(f"{args.preset} @ {args.image_size}, stand-in weights, CPU ({describe_machine()}, "
          f"{os.cpu_count()} CPUs), medians of {args.rounds} alternating rounds; "
          f"{args.frames} frames of 512 x 512 RGB (uint8, JPEG-decoded), click on frame 0",
          flush=True)
    flops = run_child("flops", args)
    results: dict[str, list[Result | None]] = {v: [] for v in variants}
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        before = os.getloadavg()[0]
        for v in order:
            t0 = _t()
            results[v].append(run_child(v, args))
            print(f"  round {r + 1}: {v} done in {_t() - t0:.0f} s", flush=True)
        print(f"  round {r + 1}: order {', '.join(order)}; load average (1 min) "
              f"{before:.2f} before, {os.getloadavg()[0]:.2f} after", flush=True)
    parity = run_child("parity", args) if "fast" in variants else None

    cols = {v: {k: _median(results.get(v, []), k) for k, _, _ in ROWS} for v in VARIANTS}
    peaks = {v: max((r["peak"] for r in results.get(v, []) if r), default=None)
             for v in ("exact", "fast")}
    rows: list[tuple[str, dict[str, float | None], str, bool]] = [
        (label, {v: cols[v][k] for v in VARIANTS}, unit, True) for k, label, unit in ROWS]
    if flops:
        for k in ("encode", "track"):
            rate = {v: flops[k] / cols[v][k] if cols[v][k] else None for v in ("exact", "fast")}
            rows.append((f"{k}: GFLOP/s ({flops[k]:.0f} GFLOP per frame)", rate, "GFLOP/s", False))
            pct = {v: 100 * rate[v] / peaks[v] if rate[v] and peaks[v] else None for v in rate}
            rows.append((f"{k}: % of the matmul peak", pct, "%", False))
    rows.append(("matmul peak, same precision (GFLOP/s)", peaks, "GFLOP/s", False))
    lo, hi = min(args.objects), max(args.objects)
    if hi > lo:
        kth = {}
        for v in ("exact", "fast"):
            per = {n: statistics.median([r["objects"][str(n)] for r in results.get(v, []) if r])
                   for n in (lo, hi)} if any(results.get(v, [])) else None
            kth[v] = (per[hi] - per[lo]) / (hi - lo) if per else None
        rows.append((f"k-th object, (t_{hi} - t_{lo}) / {hi - lo} (s/frame)", kth, "s", False))
    print("\n| measure | reference fp32 | ours exact | ours fast | exact/ref | fast/ref |")
    print("|---|---|---|---|---|---|")
    for label, vals, unit, ratio in rows:
        ref = vals.get("reference")
        rel = [_fmt(vals.get(v) / ref, "x") if ratio and ref and vals.get(v) else "—"
               for v in ("exact", "fast")]
        print(f"| {label} | {_fmt(ref, unit)} | {_fmt(vals.get('exact'), unit)} | "
              f"{_fmt(vals.get('fast'), unit)} | {rel[0]} | {rel[1]} |")
    for name, key in (("benchmark stack, stand-in", "bench"), ("demo model, held-out", "demo")):
        if parity and key in parity:
            q, d = np.asarray(parity[key][0]), np.asarray(parity[key][1])
            print(f"| fast vs exact, {name}: IoU mean / min, mean abs dlogit ({len(q)} "
                  f"frame-objects) | — | — | {q.mean():.4f} / {q.min():.4f}, {d.mean():.3f} "
                  f"| — | — |")
        elif name.startswith("demo"):
            print(f"| fast vs exact, {name} | — | — | not run | — | — |")
    print("track: per propagated frame after the click (frame 0's memory included); ours reads,\n"
          "  normalises and encodes each frame, the reference's frames were loaded by init_state.\n"
          "end-to-end: (VideoSession on the uint8 array in RAM | init_state on the JPEG folder)\n"
          "  + the click on frame 0 + propagation, over all frames.\n"
          "Ours keeps every encoded frame's features, the reference only the last one: its\n"
          "  'cached' click is a second click on the frame just clicked, and its re-propagation\n"
          "  encodes the frames again where ours finds them cached.\n"
          "GFLOP/s: ours' FLOPs over ours' time (the reference does more FLOPs per frame).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=1024)
    ap.add_argument("--objects", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--preset", default="sam2.1_hiera_tiny")
    ap.add_argument("--child", choices=[*VARIANTS, "flops", "parity"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.frames < 3:
        ap.error("--frames must be 3 or more (a click on frame 0, tracked frames after it)")
    torch.set_num_threads(args.threads)
    if args.child:
        child_main(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
