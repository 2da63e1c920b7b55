"""``napari-sam2 batch STACK... --out DIR``: the arguments and what they do.

The command-line module only registers :func:`add_parser`. Importing this
module stays light (argparse only): the parser of every subcommand is built
for each call of ``napari-sam2``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_sam2.batch.options import add_model_arguments, add_segment_arguments

__all__ = ["BatchFailed", "add_parser", "cmd_batch"]


class BatchFailed(ValueError):
    """Some stacks failed. A ValueError so that ``napari-sam2`` prints it as its one
    error line and exits 1, like any other problem with the user's input."""


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``batch`` to the subcommands ``sub`` of ``napari-sam2``."""
    p = sub.add_parser(
        "batch", help="segment many stacks on a dask cluster (resumable)",
        description="Segment every STACK (paths or globs) with its prompts file or seed labels, "
                    "on a local dask cluster or an existing one, into OUT/<stem>.tif (or a CTC "
                    "folder) and OUT/batch-report.json. Stacks already done are skipped.")
    p.add_argument("stacks", nargs="+", metavar="STACK",
                   help="image stacks (.tif/.tiff, .npy, .zarr) or globs such as 'data/*.tif'")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--prompts-dir", type=Path, metavar="DIR",
                   help="prompts per stack: DIR/<stem>.json or DIR/<stem>.csv")
    p.add_argument("--seeds-dir", type=Path, metavar="DIR",
                   help="seed labels per stack: DIR/<stem>.tif/.tiff/.npy, a 2-D label image; "
                        "each label becomes an object on the first frame of the range")
    p.add_argument("--overwrite", action="store_true",
                   help="redo stacks whose output is already complete")
    cluster = p.add_argument_group("cluster")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="a running dask scheduler, e.g. tcp://10.0.0.5:8786 "
                              "(default: start a local cluster)")
    cluster.add_argument("--workers", type=int, metavar="N",
                         help="local cluster: worker processes (default: one per GPU, else 1)")
    cluster.add_argument("--torch-threads", type=int, metavar="N",
                         help="torch threads per worker (default: the cores shared out)")
    cluster.add_argument("--retries", type=int, default=2, metavar="N",
                         help="run a stack again up to N times when its worker dies (default 2)")
    cluster.add_argument("--dashboard-address", default=":8787", metavar="[HOST]:PORT",
                         help="local cluster: where its dashboard listens (default :8787)")
    add_segment_arguments(p)
    add_model_arguments(p)
    p.set_defaults(func=cmd_batch)
    return p


def cmd_batch(args: argparse.Namespace) -> None:
    """Run the batch; raise :class:`BatchFailed` naming the stacks that failed."""
    from napari_sam2.batch.driver import ClusterSettings, run
    from napari_sam2.batch.options import ModelSettings, StackSettings

    cluster = ClusterSettings(scheduler=args.scheduler, workers=args.workers,
                              torch_threads=args.torch_threads, retries=args.retries,
                              dashboard_address=args.dashboard_address)
    report = run(args.stacks, args.out, prompts_dir=args.prompts_dir, seeds_dir=args.seeds_dir,
                 model=ModelSettings.from_args(args), settings=StackSettings.from_args(args),
                 cluster=cluster, overwrite=args.overwrite, progress=not args.no_progress)
    for stem in report.failed:
        print(f"{stem}: failed: {report.entries[stem].error}")
    if not report.ok:
        raise BatchFailed(report.summary())
    print(report.summary())
