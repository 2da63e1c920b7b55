"""What a demo-model file has learned, as figures (the tests' protocols, wider samples).

    python benchmarks/bench_demo_behaviour.py [CHECKPOINT ...] [--threads 1]

Per file (default: the packaged ``sam2_demo.pt``), on held-out synthetic
stacks (seeds < 1000; training uses >= 1000), the figures that
``tests/training/test_demo_model.py`` asserts, each on the test's seeds and,
in brackets, on a wider sample:

- one click / box: median IoU with the cell (seeds 11-14);
- negative click on a merged neighbour: median share of the neighbour left,
  median IoU with the kept cell (seeds 11-14; 100-119);
- propagation: mean IoU over 20 frames (seeds 11-14, no wider sample), and the
  share of those frames whose object score is negative though the cell is
  there (a dropped track: the price of a score too eager to call absence);
- correction on each cell's worst tracked frame (seeds 100-115): median and mean
  gain on that frame, mean gain after re-propagation and the share of frames
  the click raised, on the frames tracked below IoU 0.9 (a visibly wrong
  slice: the test's sample) and on all of them (most of the rest have errors
  a pixel or two wide, where a click is a coin flip);
- object score negative where the cell has left: share of absent frames
  (every leaving cell of seeds 20-35; the first three of 20-59), and the
  tracks whose score stays positive on most absent frames (a swap onto a
  neighbour or an entering cell).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' protocols are the definitions

from tests.training import test_demo_model as T  # noqa: E402 (after the sys.path entry)

from napari_sam2.engine.session import VideoSession  # noqa: E402
from napari_sam2.engine.synthetic import box_of, click_point  # noqa: E402
from napari_sam2.training import load_trained  # noqa: E402


def single_prompts(model) -> tuple[float, float]:
    clicks, boxes = [], []
    for seed in T.SEEDS:
        st = T._stack(seed, frames=1)
        lab = st.labels[0]
        session = VideoSession(model, st.image)
        for cell in T._cells(lab):
            res = session.add_points(0, cell, [click_point(lab, cell)], [1])
            clicks.append(T.iou(res.mask_of(cell), lab == cell))
            res = session.add_box(0, cell, box_of(lab, cell))
            boxes.append(T.iou(res.mask_of(cell), lab == cell))
    return float(np.median(clicks)), float(np.median(boxes))


def absence(model, seeds, per_stack: int | None) -> tuple[float, int, int, list[str]]:
    """Share of absent frames with a negative score, frames, tracks, swapped tracks."""
    tracks = T.absent_scores_per_track(model, seeds, per_stack)
    scores = np.concatenate(list(tracks.values()))
    swapped = [f"{s}/{c}" for (s, c), v in tracks.items() if np.mean(v >= 0) > 0.5]
    return float(np.mean(scores < 0)), len(scores), len(tracks), swapped


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("checkpoints", nargs="*", type=Path, default=[T.CHECKPOINT])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    for path in args.checkpoints:
        model = load_trained(path)
        click, box = single_prompts(model)
        left, kept = T.negative_click_figures(model, T.SEEDS)
        left_w, kept_w = T.negative_click_figures(model, range(100, 120))
        rise, after, tracked = map(np.asarray, T.correction_gains(model, T.CORRECTION_SEEDS))
        wrong = tracked < T.VISIBLY_WRONG
        absent, frames, n_tracks, swapped = absence(model, range(20, 36), None)
        absent_w, frames_w, n_tracks_w, swapped_w = absence(model, range(20, 60), 3)
        print(f"{path}")
        print(f"  one click IoU {click:.3f}, box IoU {box:.3f}")
        print(f"  negative click: neighbour left {np.median(left):.1%} ({np.median(left_w):.1%}), "
              f"IoU with the kept cell {np.median(kept):.3f} ({np.median(kept_w):.3f}); "
              f"{len(left)} ({len(left_w)}) pairs")
        present_scores: list[float] = []
        ious = T.propagation_ious(model, present_scores)
        print(f"  propagation mean IoU {np.mean(ious):.3f}; score negative on "
              f"{np.mean(np.asarray(present_scores) < 0):.1%} of {len(present_scores)} frames "
              "where the cell is present (a dropped track)")
        print(f"  correction on {int(wrong.sum())} frames tracked below IoU {T.VISIBLY_WRONG}: "
              f"frame gain median {np.median(rise[wrong]):+.3f} mean {np.mean(rise[wrong]):+.3f}, "
              f"after re-propagation mean {np.mean(after[wrong]):+.3f}; raised "
              f"{np.mean(rise[wrong] > 0):.0%}")
        print(f"    all {len(rise)} worst frames: median {np.median(rise):+.3f} mean "
              f"{np.mean(rise):+.3f}, after {np.mean(after):+.3f}; raised {np.mean(rise > 0):.0%}")
        print(f"  score negative where absent: {absent:.1%} of {frames} frames, {n_tracks} tracks "
              f"({absent_w:.1%} of {frames_w}, {n_tracks_w}); mostly positive on tracks "
              f"{swapped} ({swapped_w})", flush=True)

if __name__ == "__main__":
    main()
