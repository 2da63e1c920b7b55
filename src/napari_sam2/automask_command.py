"""``napari-sam2 segment-all``: every object on one frame, as a label image.

The options and what they do; ``cli.py`` only registers the subcommand (with
the shared model options) and passes its model loader. Light to import:
torch loads only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from napari_sam2.batch.options import add_image_arguments

HELP = "segment every object on one frame automatically (a grid of clicks) into a label image"
DESCRIPTION = (
    "Run SAM 2's automatic mask generator on frame N of IMAGE: a grid of clicks goes through "
    "the model, masks are filtered by predicted IoU and stability, duplicates removed, and the "
    "rest painted into one label image (uint16 TIFF, 0 = background)."
)
# option name -> AutoMaskSettings field (for settings and for error messages)
FIELDS = {
    "points_per_side": "--points-per-side",
    "points_per_batch": "--points-per-batch",
    "pred_iou_thresh": "--pred-iou-thresh",
    "stability_score_thresh": "--stability-score-thresh",
    "box_nms_thresh": "--box-nms-thresh",
    "crop_n_layers": "--crop-n-layers",
    "min_mask_region_area": "--min-mask-region-area",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``segment-all`` (the model options are added by the CLI)."""
    p.add_argument("image", type=Path, help="image or stack: .tif/.tiff, .npy or .zarr")
    p.add_argument("--frame", type=int, default=0, metavar="N",
                   help="frame (time point or z slice) to segment (default 0)")
    p.add_argument("--out", type=Path, required=True, help="output label image, .tif")
    add_image_arguments(p)
    p.add_argument("--points-per-side", type=int, default=32, metavar="N",
                   help="grid of N x N clicks (default 32)")
    p.add_argument("--points-per-batch", type=int, default=64, metavar="B",
                   help="clicks decoded together; more is faster, needs more memory (default 64)")
    p.add_argument("--pred-iou-thresh", type=float, default=0.8, metavar="T",
                   help="keep masks whose predicted IoU is above T (default 0.8)")
    p.add_argument("--stability-score-thresh", type=float, default=0.95, metavar="T",
                   help="keep masks at least this stable under logit +-1 (default 0.95)")
    p.add_argument("--box-nms-thresh", type=float, default=0.7, metavar="T",
                   help="drop a mask whose box overlaps a better one's by IoU > T (default 0.7)")
    p.add_argument("--crop-n-layers", type=int, default=0, metavar="L",
                   help="also segment 2x2, 4x4, ... overlapping crops (small objects in "
                        "large frames; default 0: off)")
    p.add_argument("--min-mask-region-area", type=int, default=0, metavar="AREA",
                   help="fill holes and drop islands smaller than AREA pixels (default 0: off)")
    p.add_argument("--single-mask", action="store_true",
                   help="one mask per click instead of three candidates")
    p.add_argument("--order", choices=["area", "iou"], default="area",
                   help="overlaps: smaller masks on top of larger ones (area, default) or the "
                        "most confident mask first (iou)")


def settings_from(args: argparse.Namespace):
    """The generator's settings; errors name the command-line options."""
    from napari_sam2.engine.automask import AutoMaskSettings

    values = {name: getattr(args, name) for name in FIELDS}
    try:
        return AutoMaskSettings(**values, multimask_output=not args.single_mask)
    except ValueError as err:
        message = str(err)
        for name, option in FIELDS.items():
            message = message.replace(name, option)
        raise ValueError(message) from None


def run(args: argparse.Namespace, load_model: Callable) -> None:
    """Segment everything on the frame and write the label image."""
    from napari_sam2.engine.frames import open_frames
    from napari_sam2.model.config import get_config

    if not args.image.exists():
        raise FileNotFoundError(f"image not found: {args.image}")
    if args.out.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"--out must be a .tif file, got {args.out.name}")
    source = open_frames(args.image, frame_axis=args.frame_axis or 0, channel=args.channel,
                         channel_axis=args.channel_axis)
    frame = source.read(args.frame)  # a bad --frame fails before the model loads
    settings = settings_from(args)
    get_config(args.model)  # unknown names fail before anything slow
    model = load_model(args)

    from napari_sam2.engine.automask import AutoMaskGenerator
    from napari_sam2.engine.automask_ops import paint_labels
    from napari_sam2.export import write_label_stack

    generator = AutoMaskGenerator(model, settings=settings)
    bar = _Progress(args.no_progress)
    try:
        records = generator.generate(frame, progress=bar)
    finally:
        bar.close()
    labels = paint_labels(records, frame.shape[:2], args.order)
    write_label_stack(args.out, labels)
    print(f"found {int(labels.max())} objects on frame {args.frame}; "
          f"wrote labels {labels.shape} to {args.out}")


class _Progress:
    """``progress(done, total)`` as a tqdm bar on stderr."""

    def __init__(self, disable: bool) -> None:
        self.disable, self.tqdm = disable, None

    def __call__(self, done: int, total: int) -> None:
        if self.tqdm is None:
            from tqdm.auto import tqdm

            self.tqdm = tqdm(total=total, desc="segmenting", unit="batch",
                             disable=self.disable, file=sys.stderr)
        self.tqdm.update(done - self.tqdm.n)

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
