"""How one stack is segmented: the options ``napari-sam2 segment`` and ``batch`` share.

The argument definitions live here, once, so that ``batch`` takes every
option of ``segment`` with the same names, defaults and checks; they turn
into frozen settings that travel to the workers of a cluster (plain data,
picklable, hashable: :class:`ModelSettings` keys each worker's model cache).
Only argparse, pathlib and dataclasses at import time: the command line
builds its parser without loading torch or dask.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from napari_sam2.engine.runner import SegmentOptions

__all__ = ["DEFAULT_MODEL", "FORMATS", "ModelSettings", "StackSettings", "add_image_arguments",
           "add_model_arguments", "add_segment_arguments", "segment_options"]

DEFAULT_MODEL = "sam2.1_hiera_tiny"
FORMATS = ("tiff", "ctc")
_PROG = "napari-sam2"


def add_model_arguments(p: argparse.ArgumentParser, default_model: str = DEFAULT_MODEL) -> None:
    """--model, --checkpoint, --device, --precision, --image-size, --no-progress."""
    p.add_argument("--model", default=default_model,
                   help=f"model preset (see `{_PROG} models`; default {default_model})")
    p.add_argument("--checkpoint", type=Path,
                   help="checkpoint file or folder of checkpoints (default: cache, downloading)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where to run (default auto: CUDA, then MPS, then CPU)")
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16"],
                   help="bfloat16: faster on CUDA GPUs (up to about 2x) and on CPUs with "
                        "bfloat16 units (AVX-512 BF16, AMX, Apple M2+), approximate "
                        "(default float32)")
    p.add_argument("--image-size", type=int, metavar="PX",
                   help="reduced model input size, a multiple of 32 "
                        "(faster, coarser; default 1024)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_image_arguments(p: argparse.ArgumentParser, verb: str = "segment") -> None:
    """--frame-axis, --channel, --channel-axis: how a file's axes are read (every command)."""
    p.add_argument("--frame-axis", type=int,
                   help="axis of frames: time or z (default 0; not for a single 2-D image)")
    p.add_argument("--channel", type=int, help=f"channel to {verb} (with --channel-axis, or RGB)")
    p.add_argument("--channel-axis", type=int, help="axis of channels, if any")


def add_segment_arguments(p: argparse.ArgumentParser) -> None:
    """Output format, frame/channel axes, direction and range, post-processing, long-stack mode."""
    p.add_argument("--format", choices=list(FORMATS), default="tiff",
                   help="labelled TIFF stack (default) or Cell Tracking Challenge folder")
    add_image_arguments(p)
    p.add_argument("--direction", choices=["forward", "backward", "both"], default="forward",
                   help="forward from the first prompted frame, backward from the last, or both")
    p.add_argument("--start", type=int, default=0, help="first frame of the range (default 0)")
    p.add_argument("--stop", type=int, help="end of the range, exclusive (default: all frames)")
    p.add_argument("--fill-holes", type=int, default=0, metavar="AREA",
                   help="fill holes of up to AREA pixels of the 256 x 256 low-resolution mask "
                        "(SAM 2's own GPU default is 8; default 0: off)")
    p.add_argument("--long-stack", action="store_true",
                   help="long-stack mode: SAM2Long's memory tree keeps several hypotheses "
                        "per object "
                        "(slower, more robust over long stacks)")
    p.add_argument("--pathways", type=int, default=3, metavar="P",
                   help="long-stack mode: hypotheses kept per object (default 3)")
    p.add_argument("--iou-threshold", type=float, default=0.1, metavar="T",
                   help="long-stack mode: frames whose mask has a predicted IoU above T are "
                        "remembered (default 0.1)")
    p.add_argument("--uncertainty", type=float, default=2.0, metavar="U",
                   help="long-stack mode: below this |object score| keep differing hypotheses "
                        "(default 2)")
    p.add_argument("--weight-range", type=float, nargs=2, default=(0.95, 1.05),
                   metavar=("LOW", "HIGH"),
                   help="long-stack mode: memory weights by object-score rank (default 0.95 1.05)")
    p.add_argument("--object-aware-memory", action=argparse.BooleanOptionalAction, default=True,
                   help="long-stack mode: remember only frames where the object is present and "
                        "confident (SAM2Long; default). --no-object-aware-memory remembers the "
                        "last frames as plain SAM 2 does, so a cell that leaves stays gone")
    p.add_argument("--non-overlap", action="store_true",
                   help="each pixel goes to at most one object, the most confident")


def segment_options(args: argparse.Namespace) -> SegmentOptions:
    """:class:`SegmentOptions` from parsed :func:`add_segment_arguments` (one-line ValueErrors)."""
    from napari_sam2.engine.memory_tree import MemoryTree
    from napari_sam2.engine.runner import SegmentOptions

    tree = None
    if args.long_stack:
        try:
            tree = MemoryTree(args.pathways, args.iou_threshold, args.uncertainty,
                              tuple(args.weight_range), args.object_aware_memory)
        except ValueError as err:  # name the options, not the Python keywords
            raise ValueError(f"--long-stack options: {err} (see --pathways, --iou-threshold, "
                             "--uncertainty, --weight-range)") from None
    return SegmentOptions(direction=args.direction, start=args.start, stop=args.stop,
                          fill_hole_area=args.fill_holes, non_overlap=args.non_overlap,
                          memory_tree=tree)


@dataclass(frozen=True)
class ModelSettings:
    """Which model to load and how; equal settings share one loaded model per worker."""

    name: str = DEFAULT_MODEL
    checkpoint: str | None = None
    device: str = "auto"
    image_size: int | None = None
    precision: str = "float32"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ModelSettings:
        """The settings of parsed :func:`add_model_arguments`."""
        checkpoint = None if args.checkpoint is None else str(Path(args.checkpoint).resolve())
        return cls(args.model, checkpoint, args.device, args.image_size, args.precision)

    def check(self) -> None:
        """Fail on an unknown preset before anything slow (a cluster, a download)."""
        from napari_sam2.model.config import get_config

        get_config(self.name)

    def load(self, device: str | None = None, progress: bool = False):
        """The model, on ``device`` when given (a worker's own GPU), else on ``self.device``."""
        from napari_sam2.checkpoints.loading import load_model

        return load_model(self.name, self.checkpoint, device=device or self.device,
                          image_size=self.image_size, progress=progress,
                          precision=self.precision)


def _default_segment() -> SegmentOptions:
    from napari_sam2.engine.runner import SegmentOptions

    return SegmentOptions()


@dataclass(frozen=True)
class StackSettings:
    """How every stack is read, segmented and written."""

    segment: SegmentOptions = field(default_factory=_default_segment)
    frame_axis: int = 0
    channel: int | None = None
    channel_axis: int | None = None
    format: str = "tiff"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StackSettings:
        """The settings of parsed :func:`add_segment_arguments`."""
        return cls(segment_options(args), args.frame_axis or 0, args.channel, args.channel_axis,
                   args.format)
