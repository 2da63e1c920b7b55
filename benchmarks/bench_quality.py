"""Segmentation quality of a model on held-out synthetic stacks: J & F per frame (DAVIS).

J is the region similarity (IoU of masks), F the boundary F-score (precision
and recall of boundary pixels matched within a tolerance of 0.8 % of the
image diagonal, as the DAVIS benchmark). Each tracked cell is clicked once on
its first frame, then propagated through the stack with ``VideoSession``.

Settings compared: exact float32; bfloat16 (``model.use_compute_dtype``);
smaller input sizes of the same weights; long-stack mode (SAM2Long memory
tree), with its object-aware memory and with plain SAM 2 memory. Held-out
seeds < 1000 only (the demo model trains on seeds >= 1000).

    PYTHONPATH=src python benchmarks/bench_quality.py \
        --checkpoint src/napari_sam2/model_data/sam2_demo.pt
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage.morphology import disk

from napari_sam2.engine.memory_tree import MemoryTree
from napari_sam2.engine.session import VideoSession
from napari_sam2.engine.synthetic import StackSpec, click_point, make_stack
from napari_sam2.model import build_model, get_config

DEFAULT_CHECKPOINT = (
    Path(__file__).resolve().parents[1] / "src" / "napari_sam2" / "model_data" / "sam2_demo.pt"
)
MIN_AREA = 80


def region_j(pred: np.ndarray, truth: np.ndarray) -> float:
    """Jaccard index; 1 when both are empty (DAVIS convention)."""
    union = np.logical_or(pred, truth).sum()
    return float(np.logical_and(pred, truth).sum() / union) if union else 1.0


def _boundary(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def boundary_f(pred: np.ndarray, truth: np.ndarray, bound_th: float = 0.008) -> float:
    """DAVIS boundary F-measure with a tolerance of ``bound_th`` of the image diagonal."""
    radius = max(1, int(np.ceil(bound_th * np.hypot(*pred.shape))))
    pb, tb = _boundary(pred), _boundary(truth)
    if not pb.any() and not tb.any():
        return 1.0
    if not pb.any() or not tb.any():
        return 0.0
    selem = disk(radius).astype(bool)
    t_dil = ndimage.binary_dilation(tb, structure=selem)
    p_dil = ndimage.binary_dilation(pb, structure=selem)
    precision = (pb & t_dil).sum() / pb.sum()
    recall = (tb & p_dil).sum() / tb.sum()
    return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0


def load(checkpoint: Path, image_size: int | None) -> torch.nn.Module:
    model = build_model(get_config("demo"), image_size=image_size)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["model"])
    return model.eval()


def evaluate(model, stacks, max_cells: int, memory_tree=None) -> tuple[float, float, float, int]:
    """Mean J, mean F over (cell, frame), seconds per frame, number of cells."""
    js, fs, n_cells, frames, t0 = [], [], 0, 0, time.perf_counter()
    for st in stacks:
        lab0 = st.labels[0]
        ids, counts = np.unique(lab0, return_counts=True)
        cells = [int(i) for i, c in zip(ids, counts) if i and c >= MIN_AREA][:max_cells]
        if not cells:
            continue
        session = VideoSession(model, st.image, memory_tree=memory_tree)
        for c in cells:
            session.add_points(0, c, [click_point(lab0, c)], [1])
        for res in session.propagate(0):
            frames += 1
            for c in cells:
                truth = st.labels[res.frame] == c
                pred = res.mask_of(c)
                js.append(region_j(pred, truth))
                fs.append(boundary_f(pred, truth))
        n_cells += len(cells)
    return (
        float(np.mean(js)),
        float(np.mean(fs)),
        (time.perf_counter() - t0) / max(frames, 1),
        n_cells,
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument("--stacks", type=int, default=3, help="stacks per kind (default 3)")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--cells", type=int, default=4, help="cells tracked per stack")
    p.add_argument(
        "--sizes", type=int, nargs="*", default=[192, 128], help="smaller input sizes to compare"
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="*", help="settings to run (names as printed; default all)")
    p.add_argument("--kinds", nargs="*", help="stack kinds to run (default all)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if not args.checkpoint.is_file():
        raise SystemExit(f"checkpoint not found: {args.checkpoint}")

    kinds = {
        "timelapse": StackSpec(frames=args.frames),
        "zstack": StackSpec.preset("zstack", frames=args.frames),
        # touching cells, bright debris and passing occluders: where long-stack mode should help
        "hard": StackSpec(frames=args.frames, distractors=8, occlusion=2, touching=True),
    }
    data = {
        k: [make_stack(spec, seed) for seed in range(100, 100 + args.stacks)]
        for k, spec in kinds.items()
    }
    settings = [("float32", None, torch.float32, None)]
    settings.append(("bfloat16", None, torch.bfloat16, None))
    settings += [(f"float32 @ {s}px", s, torch.float32, None) for s in args.sizes]
    settings.append(("long-stack (3 paths)", None, torch.float32, MemoryTree()))
    # SAM2Long remembers only frames where the object is present; plain memory also
    # remembers absent frames, so a cell that leaves for good is not found again
    settings.append(("long-stack, plain mem", None, torch.float32, MemoryTree(object_aware=False)))

    print(
        f"checkpoint {args.checkpoint}; {args.stacks} held-out stacks per kind (seeds 100+), "
        f"{args.frames} frames, up to {args.cells} cells each, one click on frame 0; "
        f"{torch.get_num_threads()} CPU thread(s)"
    )
    header = (f"{'setting':22s} {'kind':10s} {'J':>6s} {'F':>6s} {'J&F':>6s} "
              f"{'s/frame':>8s} {'cells':>6s}")
    print(header)
    print("-" * len(header))
    if args.kinds:
        data = {k: v for k, v in data.items() if k in args.kinds}
    if args.only:
        settings = [row for row in settings if row[0] in args.only]
    for name, size, dtype, tree in settings:
        model = load(args.checkpoint, size)
        if dtype != torch.float32:
            try:
                model.use_compute_dtype(dtype)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"{name:18s} skipped: {exc}")
                continue
        for kind, stacks in data.items():
            try:
                j, f, spf, n = evaluate(model, stacks, args.cells, tree)
            except Exception as exc:  # noqa: BLE001
                print(f"{name:18s} {kind:10s} skipped: {type(exc).__name__}: {exc}")
                continue
            print(f"{name:22s} {kind:10s} {j:6.3f} {f:6.3f} {(j + f) / 2:6.3f} {spf:8.3f} {n:6d}")


if __name__ == "__main__":
    main()
