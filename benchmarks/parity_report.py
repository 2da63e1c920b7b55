"""Agreement with the reference SAM 2.1 on the golden data, as figures.

    python benchmarks/parity_report.py [--golden ../shared/golden] [--only image_tiny ...]
                                       [--device cuda] [--precision bfloat16]

For every golden file: the worst mean |logit difference| over its answers,
the lowest IoU of the binarised masks, the largest difference of predicted
IoU (image) or object-score logit (video), and the seconds it took here
beside the reference's own time on its build machine. The tests assert the
same bounds; this prints how far inside them we are.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.engine.test_video_parity.replay

from _common import describe_machine, standin_model  # noqa: E402 (after the sys.path entry)

VIDEO = ["video_single_click", "video_absent", "video_mask_both_ways", "video_multi_refine"]
LONG = ["long_default", "long_confident"]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _load(folder: Path, name: str) -> tuple[dict, dict]:
    for d in (REPO / "tests" / "data" / "golden", folder):
        if (d / f"{name}.json").exists():
            return json.loads((d / f"{name}.json").read_text()), dict(np.load(d / f"{name}.npz"))
    raise FileNotFoundError(f"golden file {name} not found in {folder}")


def image_report(model, folder: Path) -> None:
    from napari_sam2 import ImagePredictor

    spec, data = _load(folder, "image_tiny")
    t0 = time.perf_counter()
    predictor = ImagePredictor(model)
    predictor.set_image(data["frames"][0])
    answers = {}
    for qi, q in enumerate(spec["queries"]):
        mask_in = data[q["mask_from"]] if q.get("mask_from") else None
        answers[qi] = predictor.predict(points=q.get("points"), labels=q.get("labels"),
                                        box=q.get("box"), mask_logits=mask_in,
                                        multimask=q["multimask"])
    seconds = time.perf_counter() - t0
    diffs, ious, iou_err = [], [], []
    for step in spec["steps"]:
        ans = answers[step["query"]]
        ours, ref = ans.low_res_logits[step["mask_index"]], data[step["key"]]
        diffs.append(np.abs(ours - ref).mean())
        ious.append(_iou(ours > 0, ref > 0))
        iou_err.append(abs(float(ans.iou[step["mask_index"]]) - step["iou_pred"]))
    feats = {"image_embed": predictor._embed[0], "high_res_0": predictor._features.high_res[0][0],
             "high_res_1": predictor._features.high_res[1][0]}
    feat_err = max(
        float(
            (v.float().cpu() - torch.from_numpy(data[f"feat_{k}"].astype(np.float32))).abs().max()
        )
        for k, v in feats.items()
    )
    print(f"image_tiny            {len(diffs):3d} answers: mean|dlogit| <= {max(diffs):.2e}, "
          f"IoU >= {min(ious):.4f}, |dIoU-pred| <= {max(iou_err):.1e}, "
          f"features max|d| {feat_err:.1e} (float16 data); "
          f"{seconds:.1f} s (reference {spec['seconds_reference_cpu']} s)")


def video_report(model, folder: Path, name: str) -> None:
    from tests.engine.test_video_parity import replay

    from napari_sam2 import VideoSession

    spec, data = _load(folder, name)
    t0 = time.perf_counter()
    outs = replay(VideoSession(model, data["frames"], fill_hole_area=0), spec, data)
    seconds = time.perf_counter() - t0
    diffs, ious, score_err = [], [], []
    for (_, _, obj, result), step in zip(outs, spec["steps"]):
        i = result.obj_ids.index(obj)
        ours, ref = result.low_res_logits[i], data[step["key"]]
        diffs.append(np.abs(ours - ref).mean())
        ious.append(_iou(ours > 0, ref > 0))
        score_err.append(abs(float(result.object_score_logits[i]) - step["object_score_logit"]))
    print(f"{name:<21s} {len(diffs):3d} steps:   mean|dlogit| <= {max(diffs):.2e}, "
          f"IoU >= {min(ious):.4f}, |dscore| <= {max(score_err):.1e}; "
          f"{seconds:.0f} s (reference {spec['seconds_reference_cpu']} s on its machine)")


def long_report(model, folder: Path, name: str) -> None:
    """The long-stack mode against SAM2Long's reference: final mask of every frame."""
    from napari_sam2 import VideoSession
    from napari_sam2.engine.memory_tree import MemoryTree

    spec, data = _load(folder, name)
    tree = MemoryTree(spec["num_pathway"], spec["iou_threshold"], spec["uncertainty_threshold"])
    session = VideoSession(model, data["frames"], memory_tree=tree)
    p = spec["prompt"]
    t0 = time.perf_counter()
    session.set_prompt(p["frame"], p["obj"], box=p.get("box"), points=p.get("points"),
                       labels=p.get("labels"))
    final = {r.frame: r.low_res_logits[r.obj_ids.index(p["obj"])] for r in session.propagate()}
    seconds = time.perf_counter() - t0
    diffs = [np.abs(final[s["frame"]] - data[s["key"]]).mean() for s in spec["steps"]]
    ious = [_iou(final[s["frame"]] > 0, data[s["key"]] > 0) for s in spec["steps"]]
    print(f"{name:<21s} {len(diffs):3d} frames:  mean|dlogit| <= {max(diffs):.2e}, "
          f"IoU >= {min(ious):.4f}; {seconds:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--golden", type=Path, default=REPO.parent / "shared" / "golden")
    ap.add_argument("--only", nargs="+", default=["image_tiny", *VIDEO, *LONG])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from napari_sam2 import set_precision

    model = set_precision(standin_model().to(args.device), args.precision)
    print(f"parity with the reference SAM 2.1 on stand-in tiny weights ({describe_machine()}, "
          f"{args.device}, {args.precision})")
    for name in args.only:
        if name == "image_tiny":
            image_report(model, args.golden)
        elif name.startswith("long_"):
            long_report(model, args.golden, name)
        else:
            video_report(model, args.golden, name)


if __name__ == "__main__":
    main()
