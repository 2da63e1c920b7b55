"""The ``napari-sam2`` command: headless segmentation, export and checkpoint management.

User errors (missing files, bad prompts, unknown models, offline downloads)
end with one ``napari-sam2: error: ...`` message and exit status 1; usage
errors exit with 2 (argparse); only bugs show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PROG = "napari-sam2"
DEFAULT_MODEL = "sam2.1_hiera_tiny"
# Label stacks larger than this are collected in a memory-mapped file beside
# the output instead of in RAM (a 2,000-frame 2048 x 2048 stack is 16 GB).
LABELS_IN_RAM_BYTES = 1 << 30


class UserError(Exception):
    """A problem with the user's input, reported without a traceback."""


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"model preset (see `{PROG} models`; default {DEFAULT_MODEL})")
    p.add_argument("--checkpoint", type=Path,
                   help="checkpoint file or folder of checkpoints (default: cache, downloading)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where to run (default auto: CUDA, then MPS, then CPU)")
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16"],
                   help="bfloat16: faster on CUDA GPUs (up to about 2x), approximate (default float32)")
    p.add_argument("--image-size", type=int, metavar="PX",
                   help="reduced model input size, a multiple of 32 (faster, coarser; default 1024)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="SAM 2 for microscopy stacks: segment, export, manage checkpoints.")
    from napari_sam2 import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("segment", help="segment prompted objects and propagate them through a stack",
                       description="Segment the objects in PROMPTS and track them through STACK.")
    p.add_argument("stack", type=Path, help="image stack: .tif/.tiff, .npy or .zarr")
    p.add_argument("--prompts", type=Path, required=True, help="prompts file, .json or .csv")
    p.add_argument("--out", type=Path, required=True,
                   help="output: a .tif file (--format tiff) or a folder (--format ctc)")
    p.add_argument("--format", choices=["tiff", "ctc"], default="tiff",
                   help="labelled TIFF stack (default) or Cell Tracking Challenge folder")
    p.add_argument("--frame-axis", type=int, default=0, help="axis of frames: time or z (default 0)")
    p.add_argument("--channel", type=int, help="channel to segment (with --channel-axis, or RGB)")
    p.add_argument("--channel-axis", type=int, help="axis of channels, if any")
    p.add_argument("--direction", choices=["forward", "backward", "both"], default="forward",
                   help="forward from the first prompted frame, backward from the last, or both")
    p.add_argument("--start", type=int, default=0, help="first frame of the range (default 0)")
    p.add_argument("--stop", type=int, help="end of the range, exclusive (default: all frames)")
    p.add_argument("--fill-holes", type=int, default=0, metavar="AREA",
                   help="fill holes of up to AREA pixels of the 256 x 256 low-resolution mask "
                        "(SAM 2's own GPU default is 8; default 0: off)")
    p.add_argument("--non-overlap", action="store_true",
                   help="each pixel goes to at most one object, the most confident")
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
                       description="Make a small synthetic time-lapse of a moving cell, click it "
                                   "on frame 0, track it, and write stack, prompts and labels.")
    p.add_argument("--out", type=Path, default=Path("napari-sam2-demo"),
                   help="output folder (default ./napari-sam2-demo)")
    p.add_argument("--frames", type=int, default=8, help="number of frames (default 8)")
    _model_options(p)
    p.set_defaults(func=cmd_demo)
    _add_train_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-sam2`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    from napari_sam2.weights import CheckpointError

    try:
        args.func(args)
    except (UserError, ValueError, FileNotFoundError, CheckpointError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


def _read_labels(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"labels file not found: {path}")
    if path.suffix.lower() == ".npy":
        return np.load(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(path)
    raise UserError(f"{path}: labels must be a .tif/.tiff or .npy file")


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
    from napari_sam2 import weights

    if args.download:
        path = weights.download(args.download, progress=not args.no_progress)
        print(f"{weights.checkpoint_info(args.download).preset}: {path}")
        return
    print(f"checkpoint cache: {weights.cache_dir()}  (set ${weights.ENV_CACHE_DIR} to change)")
    for name in weights.REGISTRY:
        path = weights.cached_path(name)
        print(f"  {name:<24} {str(path) if path else 'not downloaded'}")


def _frame_order(direction: str, prompted: list[int], start: int, stop: int):
    """``(start frame, reverse, max_frames)`` passes that cover the range [start, stop)."""
    first, last = min(prompted), max(prompted)
    # VideoSession.propagate visits start .. start +/- max_frames (inclusive).
    forward = (first, False, stop - 1 - first)
    if direction == "forward":
        return [forward]
    if direction == "backward":
        return [(last, True, last - start)]
    return [forward, (first, True, first - start)]


def label_buffer(shape: tuple[int, ...], max_id: int, workdir: Path | None) -> np.ndarray:
    """A zeroed label stack: in RAM when small, else memory-mapped in ``workdir``."""
    dtype = np.dtype(np.uint16 if max_id <= 0xFFFF else np.uint32)
    if workdir is None or int(np.prod(shape)) * dtype.itemsize <= LABELS_IN_RAM_BYTES:
        return np.zeros(shape, dtype)
    return np.lib.format.open_memmap(workdir / "labels.npy", mode="w+", dtype=dtype, shape=shape)


def run_segmentation(args: argparse.Namespace, frames, records,
                     workdir: Path | None = None) -> np.ndarray:
    """Segment and propagate ``records`` through ``frames``; the (T, H, W) label stack
    (memory-mapped in ``workdir`` when it would not fit comfortably in RAM)."""
    from napari_sam2.engine.prompt_file import check_prompts_fit
    from napari_sam2.model.config import get_config

    get_config(args.model)  # unknown names fail before anything slow
    if getattr(args, "fill_holes", 0) < 0:
        raise UserError(f"--fill-holes must be >= 0, got {args.fill_holes}")
    src = frames
    n = src.num_frames
    stop = n if args.stop is None else args.stop
    if not 0 <= args.start < stop <= n:
        raise UserError(f"frame range --start {args.start} --stop {stop} is not within 0..{n}")
    check_prompts_fit(records, n, src.frame_shape)
    outside = [r.frame for r in records if not args.start <= r.frame < stop]
    if outside:
        raise UserError(f"prompt on frame {outside[0]} is outside the frame range "
                        f"{args.start}..{stop - 1} (--start/--stop)")
    from napari_sam2 import VideoSession, load_model

    model = load_model(args.model, args.checkpoint, device=args.device,
                       image_size=args.image_size, progress=not args.no_progress,
                       precision=args.precision)
    session = VideoSession(model, src, fill_hole_area=getattr(args, "fill_holes", 0),
                           non_overlap=getattr(args, "non_overlap", False))
    for rec in records:
        if rec.box is not None:
            session.add_box(rec.frame, rec.obj_id, rec.box)
        if rec.points:
            session.add_points(rec.frame, rec.obj_id, np.asarray(rec.points, np.float32),
                               np.asarray(rec.labels), clear=rec.box is None)
    labels = label_buffer((n, *src.frame_shape), max(r.obj_id for r in records), workdir)
    passes = _frame_order(args.direction, [r.frame for r in records], args.start, stop)
    from tqdm.auto import tqdm

    total = sum(0 if rev and begin == 0 else m + 1 for begin, rev, m in passes)
    with tqdm(total=total, desc="propagating", unit="frame", disable=args.no_progress,
              file=sys.stderr) as bar:
        for begin, reverse, max_frames in passes:
            for result in session.propagate(begin, reverse=reverse, max_frames=max_frames):
                if args.start <= result.frame < stop:
                    labels[result.frame] = result.to_labels(src.frame_shape)
                bar.update(1)
    return labels


def cmd_segment(args: argparse.Namespace) -> None:
    from napari_sam2.engine.frames import open_frames
    from napari_sam2.engine.prompt_file import read_prompts

    if not args.stack.exists():
        raise FileNotFoundError(f"stack not found: {args.stack}")
    records = read_prompts(args.prompts)
    frames = open_frames(args.stack, frame_axis=args.frame_axis, channel=args.channel,
                         channel_axis=args.channel_axis)
    import tempfile

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".napari-sam2-", dir=args.out.parent) as tmp:
        labels = run_segmentation(args, frames, records, Path(tmp))
        _write(labels, args.out, args.format)
        del labels  # release the memory map before its folder goes


def _demo_stack(n: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A bright disc drifting right over a noisy background, and its true masks."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    stack = np.empty((n, size, size), np.uint16)
    truth = np.zeros((n, size, size), bool)
    for t in range(n):
        cx, cy = 80 + 8 * t, 128
        truth[t] = (xx - cx) ** 2 + (yy - cy) ** 2 < 30**2
        stack[t] = 200 + 1800 * truth[t] + rng.integers(0, 100, (size, size))
    return stack, truth


def cmd_demo(args: argparse.Namespace) -> None:
    import tifffile

    from napari_sam2.engine.frames import open_frames
    from napari_sam2.engine.prompt_file import PromptRecord, write_prompts

    if args.frames < 1:
        raise UserError("--frames must be at least 1")
    stack, truth = _demo_stack(args.frames)
    args.out.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(args.out / "stack.tif", stack, photometric="minisblack")
    records = [PromptRecord(0, 1, points=((80.0, 128.0),), labels=(1,))]
    write_prompts(args.out / "prompts.json", records)
    args.start, args.stop, args.direction = 0, None, "forward"
    labels = run_segmentation(args, open_frames(stack), records)
    _write(labels, args.out / "labels.tif", "tiff")
    inter = np.logical_and(labels == 1, truth).sum(axis=(1, 2))
    union = np.logical_or(labels == 1, truth).sum(axis=(1, 2))
    print("IoU with the true cell, per frame:", " ".join(f"{i / u:.2f}" for i, u in zip(inter, union)))
    print(f"view it: napari {args.out / 'stack.tif'} {args.out / 'labels.tif'}")


def _add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train or fine-tune a model on labelled stacks or synthetic cells",
                       description="Train SAM 2 with simulated clicks, boxes and corrections on image "
                                   "batches and 8-frame clips. Resumes from OUT/last.pt.")
    from napari_sam2.training.command import add_arguments

    add_arguments(p)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> None:
    from napari_sam2.training.command import run

    run(args)
