"""What a batch is made of: stacks found from paths and globs, each with its
prompts (or seeds) and its output, as frozen :class:`StackJob` s.

Everything here runs on the client and only looks at names: a stack whose
file is unreadable or whose prompts are bad fails later, in its own task,
without stopping the others.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PROMPT_SUFFIXES", "SEED_SUFFIXES", "STACK_SUFFIXES", "StackJob", "expand_stacks",
           "make_jobs", "output_path", "read_seeds", "stem_of"]

STACK_SUFFIXES = (".tif", ".tiff", ".npy", ".zarr")
PROMPT_SUFFIXES = (".json", ".csv")
SEED_SUFFIXES = (".tif", ".tiff", ".npy")


@dataclass(frozen=True)
class StackJob:
    """One stack: where it is, its prompts or seed labels, and where its labels go."""

    stem: str
    stack: str
    output: str
    prompts: str | None = None
    seeds: str | None = None


def stem_of(path: str | os.PathLike) -> str:
    """The name outputs and prompts are matched by (``a/cells_01.tif`` -> ``cells_01``)."""
    name = Path(path).name.rstrip("/")
    for suffix in (".ome.tiff", ".ome.tif", *STACK_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def expand_stacks(patterns: Iterable[str | os.PathLike]) -> list[Path]:
    """Paths and globs -> stacks, in the order given (globs sorted), each once.

    A pattern matching nothing is an error: a typo must not silently shrink
    an overnight batch. A path that does not exist is kept (it is reported
    as that stack's error), so a missing file is visible in the report.
    """
    found: list[Path] = []
    for pattern in patterns:
        text = os.fspath(pattern)
        if glob.has_magic(text):
            matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
            if not matches:
                raise ValueError(f"no stack matches {text!r}")
            found += [Path(m) for m in matches]
        else:
            found.append(Path(os.path.expanduser(text)))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise ValueError("no stacks given")
    return unique


def output_path(out: Path, stem: str, fmt: str) -> Path:
    """``out/<stem>.tif`` for TIFF, the folder ``out/<stem>`` for CTC."""
    return out / (f"{stem}.tif" if fmt == "tiff" else stem)


def _companion(folder: Path | None, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    if folder is None:
        return None
    return next((folder / (stem + s) for s in suffixes if (folder / (stem + s)).is_file()), None)


def make_jobs(stacks: Iterable[Path], out: Path, fmt: str, *, prompts_dir: Path | None = None,
              seeds_dir: Path | None = None) -> tuple[list[StackJob], dict[str, str]]:
    """The jobs, and ``{stem: error}`` for stacks that cannot even start (no prompts file).

    Prompts (``prompts_dir/<stem>.json`` or ``.csv``) win over seeds
    (``seeds_dir/<stem>.tif``/``.tiff``/``.npy``) when a stack has both.
    """
    if prompts_dir is None and seeds_dir is None:
        raise ValueError("give --prompts-dir (prompts files) or --seeds-dir (label images)")
    for name, folder in (("prompts", prompts_dir), ("seeds", seeds_dir)):
        if folder is not None and not Path(folder).is_dir():
            raise FileNotFoundError(f"{name} folder not found: {folder}")
    jobs, missing = [], {}
    by_stem: dict[str, Path] = {}
    for stack in stacks:
        stem = stem_of(stack)
        if stem in by_stem:
            raise ValueError(f"two stacks would write the same output {stem!r}: "
                             f"{by_stem[stem]} and {stack}; rename one")
        by_stem[stem] = stack
        prompts = _companion(prompts_dir and Path(prompts_dir), stem, PROMPT_SUFFIXES)
        seeds = None if prompts else _companion(seeds_dir and Path(seeds_dir), stem,
                                                SEED_SUFFIXES)
        job = StackJob(stem, str(stack), str(output_path(out, stem, fmt)),
                       None if prompts is None else str(prompts),
                       None if seeds is None else str(seeds))
        if prompts is None and seeds is None:
            where = " or ".join(f"{d}/{stem}.*" for d in (prompts_dir, seeds_dir) if d)
            missing[stem] = f"no prompts or seeds for {stack.name} (looked for {where})"
        jobs.append(job)
    return jobs, missing


def read_seeds(path: str | os.PathLike) -> dict:
    """A 2-D label image -> ``{label: boolean mask}``, one object per nonzero label.

    A ``(1, H, W)`` image counts as 2-D; the masks go on the first frame of
    the range (see :func:`napari_sam2.engine.runner.segment_stack`).
    """
    import numpy as np

    path = Path(path)
    if path.suffix.lower() == ".npy":
        labels = np.load(path, allow_pickle=False)
    else:
        import tifffile

        labels = tifffile.imread(path)
    labels = np.asarray(labels)
    if labels.ndim == 3 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: seeds must be a 2-D integer label image, got "
                         f"{labels.dtype} {labels.shape}")
    ids = [int(i) for i in np.unique(labels) if i > 0]
    if not ids:
        raise ValueError(f"{path}: the seed label image has no labels (all 0)")
    return {i: labels == i for i in ids}
