"""``napari-sam2 track-all``: seed every label of a label image, track them all, export a lineage.

Registered by :mod:`napari_sam2.cli`, which hands in its model options,
model loader and progress bar; user errors are ``ValueError`` /
``FileNotFoundError``, which it reports as one line.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np

from napari_sam2.batch.options import add_image_arguments

__all__ = ["add_parser", "cmd_track_all"]

FORMATS = ("ctc", "geff", "tif")


def add_parser(sub, model_options, load_model, progress_bar) -> None:
    """Add the ``track-all`` subcommand to ``sub``: ``model_options(parser)`` adds
    --model etc., ``load_model(args)`` loads it, ``progress_bar(disable)`` makes a
    ``progress(done, total)`` callable with ``close()``."""
    p = sub.add_parser(
        "track-all", help="track every labelled object of a label image through a stack",
        description="Every label of SEEDS becomes an object on the first frame; all are "
                    "tracked together. With --reseed-every K the seeds are read again every K "
                    "frames: masks no track covers become new objects, and two new "
                    "objects inside a track that ended are its daughters (a division).")
    p.add_argument("image", type=Path, help="image stack: .tif/.tiff, .npy or .zarr")
    p.add_argument("--seeds", type=Path, required=True,
                   help="labels (.tif/.npy): one (Y, X) image for the first frame, or a "
                        "(T, Y, X) stack (e.g. Cellpose/StarDist per frame) for re-seeding")
    p.add_argument("--reseed-every", type=int, metavar="K",
                   help="read the seeds again every K frames (needs a seed stack)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=FORMATS, default="ctc",
                   help="ctc: Cell Tracking Challenge masks + res_track.txt (default); "
                        "geff: lineage.geff + labels.tif; tif: labels.tif + res_track.txt")
    p.add_argument("--start", type=int, default=0, help="seeded first frame (default 0)")
    p.add_argument("--stop", type=int, help="end of the range, exclusive (default: all frames)")
    add_image_arguments(p, verb="track")
    p.add_argument("--min-area", type=int, default=10, metavar="PX",
                   help="smaller seeds are ignored and smaller masks end a track (default 10)")
    p.add_argument("--fill-holes", type=int, default=0, metavar="AREA",
                   help="fill holes of up to AREA low-resolution pixels (default 0: off)")
    p.add_argument("--overlap", action="store_true",
                   help="let objects share pixels (default: each pixel goes to one object)")
    model_options(p)
    p.set_defaults(func=partial(cmd_track_all, load_model=load_model,
                                progress_bar=progress_bar))


def _read_labels(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"seed labels not found: {path}")
    if path.suffix.lower() == ".npy":
        return np.load(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(path)
    raise ValueError(f"{path}: seed labels must be a .tif/.tiff or .npy file")


def _seeds(path: Path, frames, start: int, reseed: int | None):
    from napari_sam2.engine.seeding import LabelStack

    labels = _read_labels(path)
    n, shape = frames.num_frames, tuple(frames.frame_shape)
    if labels.ndim == 2:
        if reseed is not None:
            raise ValueError("--reseed-every needs a (T, Y, X) seed stack, "
                            f"{path.name} is one image")
        if labels.shape != shape:
            raise ValueError(f"seed labels {labels.shape} do not match the frames {shape}")
        return LabelStack(labels)
    if labels.ndim != 3 or labels.shape != (n, *shape):
        raise ValueError(f"seed labels {labels.shape} do not match the stack: expected "
                        f"{shape} or {(n, *shape)}")
    if not labels[start].any():
        raise ValueError(f"the seed labels have no object on frame {start}")
    return LabelStack(labels)


def cmd_track_all(args: argparse.Namespace, *, load_model, progress_bar) -> None:
    from napari_sam2.engine.frames import open_frames
    from napari_sam2.engine.lineage import ReseedRules
    from napari_sam2.engine.track_all import TrackAllOptions, track_all
    from napari_sam2.model.config import get_config

    if not args.image.exists():
        raise FileNotFoundError(f"image not found: {args.image}")
    frames = open_frames(args.image, frame_axis=args.frame_axis or 0, channel=args.channel,
                         channel_axis=args.channel_axis)
    try:
        options = TrackAllOptions(start=args.start, stop=args.stop,
                                  reseed_every=args.reseed_every, non_overlap=not args.overlap,
                                  fill_hole_area=args.fill_holes,
                                  rules=ReseedRules(min_area=max(args.min_area, 1)))
        options.frame_range(frames.num_frames)
    except ValueError as err:
        raise ValueError(f"{err} (see --start, --stop, --reseed-every, --fill-holes)") from None
    seeds = _seeds(args.seeds, frames, args.start, args.reseed_every)
    get_config(args.model)  # unknown names fail before anything slow
    model = load_model(args)
    import tempfile

    args.out.mkdir(parents=True, exist_ok=True)
    bar = progress_bar(disable=args.no_progress)
    with tempfile.TemporaryDirectory(prefix=".napari-sam2-", dir=args.out) as tmp:
        try:
            result = track_all(model, frames, seeds, options, workdir=tmp, progress=bar)
        finally:
            bar.close()
        _write(result.labels, result.graph, args.out, args.format)
        del result


def _write(labels: np.ndarray, graph, out: Path, fmt: str) -> None:
    from napari_sam2.export import write_label_stack
    from napari_sam2.export_lineage import track_stack_summary, write_geff, write_lineage_ctc

    summary = track_stack_summary(labels, graph)
    if fmt == "ctc":
        write_lineage_ctc(out, labels, graph)
        print(f"wrote CTC masks and res_track.txt ({summary}) to {out}")
        return
    write_label_stack(out / "labels.tif", labels)
    if fmt == "geff":
        if not graph.track_ids:
            print(f"no object was tracked; wrote only labels.tif to {out}")
            return
        write_geff(out / "lineage.geff", graph)
        print(f"wrote lineage.geff and labels.tif ({summary}) to {out}")
    else:
        lines = "".join(f"{t} {b} {e} {p}\n" for t, b, e, p in graph.table())
        (out / "res_track.txt").write_text(lines)
        print(f"wrote labels.tif and res_track.txt ({summary}) to {out}")
