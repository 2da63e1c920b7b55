"""The ``napari-sam2`` command: headless segmentation, export and checkpoint management.

User errors (missing files, bad prompts, unknown models, offline downloads)
end with one ``napari-sam2: error: ...`` message and exit status 1; usage
errors exit with 2 (argparse); only bugs show a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from napari_sam2.batch.command import add_parser as add_batch_parser
from napari_sam2.batch.options import add_model_arguments as _model_options
from napari_sam2.batch.options import add_segment_arguments, segment_options

PROG = "napari-sam2"


class UserError(Exception):
    """A problem with the user's input, reported without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="SAM 2 for microscopy stacks: segment, export, manage checkpoints.")
    from napari_sam2 import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("segment",
                       help="segment prompted objects and propagate them through a stack",
                       description="Segment the objects in PROMPTS and track them through STACK.")
    p.add_argument("stack", type=Path, help="image stack: .tif/.tiff, .npy or .zarr")
    p.add_argument("--prompts", type=Path, required=True, help="prompts file, .json or .csv")
    p.add_argument("--out", type=Path, required=True,
                   help="output: a .tif file (--format tiff) or a folder (--format ctc)")
    add_segment_arguments(p)
    _model_options(p)
    p.set_defaults(func=cmd_segment)

    p = sub.add_parser("export", help="convert a labels stack to TIFF or CTC format",
                       description="Convert a labels stack (.tif/.npy) to another format.")
    p.add_argument("labels", type=Path, help="labels stack, .tif/.tiff or .npy")
    p.add_argument("--to", choices=["tiff", "ctc"], required=True, help="output format")
    p.add_argument("--out", type=Path, required=True, help="output .tif file or CTC folder")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("models", help="list model presets and cached checkpoints, or download one",
                       description="List model presets and their cached checkpoints.")
    p.add_argument("--download", metavar="NAME", help="download NAME's checkpoint into the cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("demo", help="segment a synthetic time-lapse end to end and report accuracy",
                       description="Click one cell on frame 0 of the synthetic sample "
                                   "time-lapse, track it with the packaged demo model (offline; "
                                   "--model for an official one), and write stack, prompts and "
                                   "labels. --gui: open napari with sample data and the widget.")
    p.add_argument("--out", type=Path, default=Path("napari-sam2-demo"),
                   help="output folder (default ./napari-sam2-demo)")
    p.add_argument("--frames", type=int, default=8, help="number of frames (default 8)")
    p.add_argument("--gui", action="store_true",
                   help="open napari with the sample time-lapse and the widget docked")
    p.add_argument("--standin", action="store_true",
                   help="stand-in weights: no download, meaningless masks (checks an install)")
    _model_options(p, default_model="demo")
    p.set_defaults(func=cmd_demo)
    from napari_sam2.cli_track_all import add_parser as add_track_all

    add_track_all(sub, _model_options, _load_model, _Bar)
    _add_train_parser(sub)
    _add_segment_all_parser(sub)
    add_batch_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-sam2`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    from napari_sam2.checkpoints.errors import CheckpointError

    try:
        args.func(args)
    except (UserError, ValueError, FileNotFoundError, CheckpointError) as err:
        print(f"{PROG}: error: {as_cli_words(str(err))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


# The engine's messages name Python keywords; on the command line they are options.
_KEYWORDS = (
    (r"\bchannel=(-?\d+)", r"--channel \1"),
    (r"\bpass channel_axis\b", "pass --channel-axis"),
    (r"\bchannel_axis\b", "--channel-axis"),
    (r"\bframe_axis\b", "--frame-axis"),
    (r"\bimage_size\b", "--image-size"),
    (r"\bfill_hole_area\b", "--fill-holes"),
    # the checkpoint hint for scripts: on the command line only --checkpoint applies
    (r"load_model\([^)]*\) or `napari-sam2 segment --checkpoint PATH`", "--checkpoint PATH"),
)


def as_cli_words(message: str) -> str:
    """``message`` with the engine's keyword names replaced by the CLI's options."""
    for pattern, option in _KEYWORDS:
        message = re.sub(pattern, option, message)
    return message


def _check_image_size(size: int | None) -> None:
    """``--image-size``: a positive multiple of 32 (checked before any download)."""
    if size is not None and (size < 32 or size % 32):
        raise UserError(
            f"--image-size {size} is not a positive multiple of 32 (e.g. 256, 512 or 1024)"
        )


def _read_labels(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"labels file not found: {path}")
    if path.suffix.lower() == ".npy":
        return np.load(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        try:
            return tifffile.imread(path)
        except (tifffile.TiffFileError, ValueError) as err:
            raise UserError(f"{path}: cannot read it as a TIFF file ({err})") from None
    raise UserError(f"{path}: not a .tif/.tiff or .npy file; labels must be one")


def _write(labels: np.ndarray, out: Path, fmt: str) -> None:
    from napari_sam2.export import write_ctc, write_label_stack

    if fmt == "ctc":
        tracks = write_ctc(out, labels)
        print(f"wrote {labels.shape[0]} CTC masks and {len(tracks)} tracks to {out}")
    else:
        write_label_stack(out, labels)
        print(f"wrote labels {labels.shape} to {out}")


def cmd_export(args: argparse.Namespace) -> None:
    labels = _read_labels(args.labels)
    if args.to == "ctc" and labels.ndim == 2:
        labels = labels[None]
    _write(labels, args.out, args.to)


def cmd_models(args: argparse.Namespace) -> None:
    import napari_sam2.checkpoints as checkpoints

    if args.download:
        path = checkpoints.download_checkpoint(args.download, progress=not args.no_progress)
        print(f"{checkpoints.checkpoint_info(args.download).preset}: {path}")
        return
    from napari_sam2.model.config import ALIASES

    print(f"checkpoint cache: {checkpoints.cache_dir()}  "
          f"(set ${checkpoints.ENV_CACHE_DIR} to change)")
    print(f"  {'preset':<24} {'also called (--model)':<36} checkpoint")
    for name, info in checkpoints.REGISTRY.items():
        if info.packaged:
            path = checkpoints.packaged_path(info)
            state = f"packaged: {path}" if path.is_file() else "not in this installation"
        else:
            path = checkpoints.cached_path(name)
            state = str(path) if path else "not downloaded"
        short = [a for a, target in ALIASES.items() if target == name]
        print(f"  {name:<24} {', '.join(short) or '-':<36} {state}")
    print(f"`--model` takes a preset or a short name (e.g. {PROG} segment --model tiny ...)")


def _load_model(args: argparse.Namespace):
    from napari_sam2.checkpoints import load_model

    _check_image_size(args.image_size)
    return load_model(args.model, args.checkpoint, device=args.device,
                      image_size=args.image_size, progress=not args.no_progress,
                      precision=args.precision)


class _Bar:
    """``progress(done, total)`` as a tqdm bar on stderr."""

    def __init__(self, disable: bool) -> None:
        self.disable, self.bar = disable, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="propagating", unit="frame",
                            disable=self.disable, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_segment(args: argparse.Namespace) -> None:
    from napari_sam2.engine.frames import open_frames
    from napari_sam2.engine.prompt_file import read_prompts
    from napari_sam2.engine.runner import check_inputs, segment_stack
    from napari_sam2.model.config import get_config

    _check_image_size(args.image_size)
    if not args.stack.exists():
        raise FileNotFoundError(f"stack not found: {args.stack}")
    records = read_prompts(args.prompts)
    frame_axis = 0 if args.frame_axis is None else args.frame_axis
    frames = open_frames(args.stack, frame_axis=frame_axis, channel=args.channel,
                         channel_axis=args.channel_axis)
    if args.frame_axis is not None and frames.frame_axis is None:
        raise UserError(
            f"--frame-axis {args.frame_axis}: {args.stack} is a single 2-D image "
            f"{frames.shape} without frames; leave --frame-axis out"
        )
    get_config(args.model)  # unknown names fail before anything slow
    options = segment_options(args)
    check_inputs(frames, records, options)  # before the model loads (or downloads)
    model = _load_model(args)
    import tempfile

    args.out.parent.mkdir(parents=True, exist_ok=True)
    bar = _Bar(disable=args.no_progress)
    with tempfile.TemporaryDirectory(prefix=".napari-sam2-", dir=args.out.parent) as tmp:
        try:
            labels = segment_stack(model, frames, records, options, workdir=tmp, progress=bar)
        finally:
            bar.close()
        _write(labels, args.out, args.format)
        del labels  # release the memory map before its folder goes


def cmd_demo(args: argparse.Namespace) -> None:
    import napari_sam2.demo as demo

    if args.gui:
        demo.run_gui(_demo_settings(args))
        return
    if args.frames < 1:
        raise UserError("--frames must be at least 1")
    if args.standin:
        args.model, args.checkpoint = demo.STANDIN_MODEL, demo.standin_checkpoint()
    bar = _Bar(disable=args.no_progress)
    try:
        result = demo.run_demo(_load_model(args), args.frames, progress=bar)
    finally:
        bar.close()
    demo.write_demo(args.out, result)
    print(f"wrote stack.tif, prompts.json and labels.tif to {args.out}")
    print("IoU with the true cell, per frame:", " ".join(f"{v:.2f}" for v in result.iou))
    print(f"view it: napari {args.out / 'stack.tif'} {args.out / 'labels.tif'} "
          "(napari asks which reader opens labels.tif: napari-sam2 opens it as Labels)")


def _demo_settings(args: argparse.Namespace):
    from napari_sam2.demo import STANDIN_MODEL, gui_settings, standin_checkpoint

    if args.standin:
        args.model, args.checkpoint = STANDIN_MODEL, standin_checkpoint()
    return gui_settings(args.model, args.checkpoint, args.device, args.image_size, args.precision)


def _add_segment_all_parser(sub) -> None:
    from napari_sam2.automask_command import DESCRIPTION, HELP, add_arguments

    p = sub.add_parser("segment-all", help=HELP, description=DESCRIPTION)
    add_arguments(p)
    _model_options(p)
    p.set_defaults(func=_segment_all)


def _segment_all(args: argparse.Namespace) -> None:
    from napari_sam2.automask_command import run

    run(args, _load_model)


def _add_train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train or fine-tune a model on labelled stacks or synthetic cells",
        description="Train SAM 2 with simulated clicks, boxes and corrections on image "
                    "batches and 8-frame clips. Resumes from OUT/last.pt.")
    from napari_sam2.training.command import add_arguments

    add_arguments(p)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> None:
    from napari_sam2.training.command import run

    run(args)
