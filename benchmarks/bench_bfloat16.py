"""bfloat16 fast mode on the CPU: speed against the reference, and agreement with exact mode.

    python benchmarks/bench_bfloat16.py speed   [--frames 4] [--rounds 3] [--threads 2]
    python benchmarks/bench_bfloat16.py quality [--demo /work/train-demo/final.pt]

``speed``: in one run, alternating in every round (the order rotates), the
reference SAM 2.1 (official code from a git mirror, see ``_reference.py``)
in float32, ours in float32 and ours in bfloat16; tiny at 1024 with the
same stand-in weights. Per encoded frame (the image encoder on one
normalised frame) and per propagated frame (one object, a click on frame 0).
Medians of the rounds; the load average is printed, since the machine may be
shared. Achieved GFLOP/s per step (FLOPs counted with
``torch.utils.flop_counter`` on ours) against the matmul peak in float32 and
bfloat16 measured in the same rounds.

``quality``: bfloat16 against float32 on the same prompts: IoU of the
binarised masks and mean |logit difference| (low-resolution logits clipped to
+-20, so an object called absent by one mode counts as 40, not 1,000), per
tracked (frame, object); on the benchmark stack with stand-in weights (1024)
and on the trained demo model's held-out stacks (seeds < 1000).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import describe_machine, standin_model

PEAK_SIDE = 2048
CLIP = 20.0


def blob_frames(frames: int, side: int = 512) -> np.ndarray:
    """uint8 RGB frames: a drifting bright disc on noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side]
    out = rng.integers(20, 60, size=(frames, side, side), dtype=np.uint8)
    for t in range(frames):
        out[t][(yy - side // 2) ** 2 + (xx - side // 3 - 4 * t) ** 2 < 40**2] += 150
    return np.repeat(out[..., None], 3, axis=-1)


def matmul_gflops(dtype: torch.dtype) -> float:
    a = torch.randn(PEAK_SIDE, PEAK_SIDE).to(dtype)
    b = torch.randn(PEAK_SIDE, PEAK_SIDE).to(dtype)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * PEAK_SIDE**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _ours_propagate(model, frames: np.ndarray, count: bool = False) -> float:
    """Seconds per propagated frame, or (``count``) GFLOP per propagated frame."""
    from napari_sam2.engine.session import VideoSession

    session = VideoSession(model, frames, rgb=True)
    session.add_points(0, 1, [[170, 256]], [1])
    n = [0]

    def run() -> None:
        n[0] = sum(1 for _ in session.propagate(start=0)) - 1  # frame 0 is the prompt

    return (_flops(run) if count else _timed(run)) / n[0]


def _ref_propagate(ref, folder: str) -> float:
    state = ref.init_state(folder)
    with torch.inference_mode():
        ref.add_new_points_or_box(state, frame_idx=0, obj_id=1,
                                  points=np.array([[170, 256]], np.float32),
                                  labels=np.array([1], np.int32))
        t0 = time.perf_counter()
        n = sum(1 for _ in ref.propagate_in_video(state)) - 1
    return (time.perf_counter() - t0) / n


def _flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def speed(args) -> None:
    from _reference import reference_video_predictor
    from PIL import Image

    from napari_sam2.model.precision import cpu_supports_bfloat16

    if not cpu_supports_bfloat16():
        raise SystemExit("this CPU has no bfloat16 units: nothing to compare")
    fp32 = standin_model()
    bf16 = standin_model()
    bf16.use_compute_dtype(torch.bfloat16)
    ref = reference_video_predictor(fp32.state_dict())
    frames = blob_frames(args.frames)
    x = torch.randn(1, 3, 1024, 1024)
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as folder:
        for t, frame in enumerate(frames):
            Image.fromarray(frame).save(Path(folder) / f"{t:05d}.jpg", quality=95)
        # The JPEG round trip changes pixels: both sides read the same decoded frames.
        frames = np.stack([np.asarray(Image.open(Path(folder) / f"{t:05d}.jpg"))
                           for t in range(len(frames))])
        with torch.inference_mode():  # warm-up, and the FLOPs of each step
            gf_encode = _flops(lambda: bf16.encode_image(x))
        gf_frame = _ours_propagate(bf16, frames, count=True)
        steps = {
            "encode": {
                "reference float32": lambda: ref.forward_image(x),
                "ours float32": lambda: fp32.encode_image(x),
                "ours bfloat16": lambda: bf16.encode_image(x),
            },
            "propagate": {
                "reference float32": lambda: _ref_propagate(ref, folder),
                "ours float32": lambda: _ours_propagate(fp32, frames),
                "ours bfloat16": lambda: _ours_propagate(bf16, frames),
            },
        }
        times = {(s, k): [] for s, v in steps.items() for k in v}
        peaks: dict[str, list[float]] = {"float32": [], "bfloat16": []}
        for r in range(args.rounds):
            for step, variants in steps.items():
                names = list(variants)
                names = names[r % 3:] + names[:r % 3]  # rotate who goes first
                for name in names:
                    with torch.inference_mode():
                        out = _timed(variants[name]) if step == "encode" else variants[name]()
                    times[step, name].append(out)
            peaks["float32"].append(matmul_gflops(torch.float32))
            peaks["bfloat16"].append(matmul_gflops(torch.bfloat16))
            loads.append(os.getloadavg()[0])
            print(f"  round {r + 1}: " + ", ".join(
                f"{s} {k.replace('reference', 'ref')} {v[-1]:.2f}s" for (s, k), v in times.items()
            ), flush=True)
    med = {key: statistics.median(v) for key, v in times.items()}
    peak = {k: max(v) for k, v in peaks.items()}
    print(f"tiny @ 1024, stand-in weights, CPU ({describe_machine()}), {args.rounds} alternating "
          f"rounds, medians; propagation: {args.frames - 1} frames after a click on frame 0")
    print(f"load average (1 min) during the run: {min(loads):.1f} .. {max(loads):.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"matmul peak {PEAK_SIDE}^3 (best of the rounds): float32 {peak['float32']:.0f} GFLOP/s, "
          f"bfloat16 {peak['bfloat16']:.0f} GFLOP/s")
    gf = {"encode": gf_encode, "propagate": gf_frame}
    print(f"FLOPs (ours, torch.utils.flop_counter): encode {gf_encode:.0f} GFLOP; propagation "
          f"{gf_frame:.0f} GFLOP per frame (mean over the same frames as timed)")
    print(f"{'step':10s} {'variant':18s} {'s/frame':>8s} {'vs ref':>7s} {'GFLOP/s':>8s} "
          f"{'% of peak':>9s}")
    for step in steps:
        base = med[step, "reference float32"]
        for name in steps[step]:
            s = med[step, name]
            rate = gf[step] / s
            pk = peak["bfloat16" if "bfloat16" in name else "float32"]
            extra = "" if name.startswith("reference") else f"{rate:8.0f} {100 * rate / pk:8.0f}%"
            print(f"{step:10s} {name:18s} {s:8.2f} {s / base:7.2f} {extra}")
    print("(GFLOP/s: ours only, against the matmul peak of the same precision; the "
          "reference does more FLOPs per propagated frame)")


def _compare(a_results, b_results) -> tuple[list[float], list[float]]:
    ious, dlogits = [], []
    for a, b in zip(a_results, b_results):
        for i in range(len(a.obj_ids)):
            ma, mb = a.masks[i], b.masks[i]
            union = (ma | mb).sum()
            ious.append(float((ma & mb).sum() / union) if union else 1.0)
            la = np.clip(a.low_res_logits[i], -CLIP, CLIP)
            lb = np.clip(b.low_res_logits[i], -CLIP, CLIP)
            dlogits.append(float(np.abs(la - lb).mean()))
    return ious, dlogits


def _run(model, image: np.ndarray, clicks: dict[int, list]) -> list:
    from napari_sam2.engine.session import VideoSession

    session = VideoSession(model, image)
    for obj, point in clicks.items():
        session.add_points(0, obj, [point], [1])
    return list(session.propagate(0))


def _report(name: str, ious: list[float], dlogits: list[float]) -> None:
    q = np.asarray(ious)
    print(f"  {name:34s} IoU mean {q.mean():.4f}, min {q.min():.4f}, "
          f"share >= 0.98 {np.mean(q >= 0.98):6.1%}; mean |dlogit| {np.mean(dlogits):.3f} "
          f"({len(q)} frame-objects)")


def benchmark_stack(frames: int) -> np.ndarray:
    """The 512 x 512 uint16 stack of ``bench_video.py`` (a drifting bright blob), in RAM."""
    from bench_video import _write_stack

    with tempfile.TemporaryDirectory() as tmp:
        _write_stack(str(Path(tmp) / "s.npy"), frames, 512)
        return np.load(Path(tmp) / "s.npy")


def demo_models(path: str | Path) -> list:
    """The trained demo model from ``path``, in float32 and in bfloat16."""
    from napari_sam2.model import build_model, get_config

    state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    models = []
    for dtype in (torch.float32, torch.bfloat16):
        m = build_model(get_config("demo"))
        m.load_state_dict(state)
        m.eval().use_compute_dtype(dtype)
        models.append(m)
    return models


def held_out_parity(models: list, frames: int, stacks: int,
                    cells: int) -> dict[str, tuple[list[float], list[float]]]:
    """IoUs and mean |dlogit| of ``models[1]`` against ``models[0]`` per held-out stack kind
    (seeds 100.., clicks on up to ``cells`` cells of frame 0)."""
    from bench_quality import MIN_AREA

    from napari_sam2.engine.synthetic import StackSpec, click_point, make_stack

    kinds = {"timelapse": StackSpec(frames=frames),
             "zstack": StackSpec.preset("zstack", frames=frames)}
    out = {}
    for kind, spec in kinds.items():
        ious, dl = [], []
        for seed in range(100, 100 + stacks):
            st = make_stack(spec, seed)
            ids, counts = np.unique(st.labels[0], return_counts=True)
            chosen = [int(i) for i, c in zip(ids, counts) if i and c >= MIN_AREA][:cells]
            clicks = {c: click_point(st.labels[0], c) for c in chosen}
            if clicks:
                i, d = _compare(*[_run(m, st.image, clicks) for m in models])
                ious += i
                dl += d
        out[kind] = (ious, dl)
    return out


def quality(args) -> None:
    print(f"bfloat16 against float32 ({describe_machine()})")
    stack = benchmark_stack(args.bench_frames)
    models = [standin_model(), standin_model()]
    models[1].use_compute_dtype(torch.bfloat16)
    runs = [_run(m, stack, {1: [170, 256]}) for m in models]
    _report(f"benchmark stack, stand-in, 1024, {args.bench_frames} frames", *_compare(*runs))

    if not Path(args.demo).is_file():
        print(f"  demo checkpoint {args.demo} not found: held-out stacks skipped")
        return
    parity = held_out_parity(demo_models(args.demo), args.frames, args.stacks, args.cells)
    total_i, total_d = [], []
    for kind, (ious, dl) in parity.items():
        _report(f"demo model, held-out {kind} x{args.stacks}", ious, dl)
        total_i += ious
        total_d += dl
    _report("demo model, all held-out stacks", total_i, total_d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["speed", "quality"])
    ap.add_argument("--frames", type=int, default=None,
                    help="speed: frames of the stack (default 4); quality: of each held-out "
                         "stack (default 12)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--demo", default="/work/train-demo/final.pt")
    ap.add_argument("--stacks", type=int, default=3, help="held-out stacks per kind")
    ap.add_argument("--cells", type=int, default=4)
    ap.add_argument("--bench-frames", type=int, default=6)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "speed":
        args.frames = args.frames or 4
        speed(args)
    else:
        args.frames = args.frames or 12
        quality(args)


if __name__ == "__main__":
    main()
