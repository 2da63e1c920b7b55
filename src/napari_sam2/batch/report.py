"""The batch report and safe writes.

``DIR/batch-report.json`` holds one entry per stack ever run into ``DIR``
(``{"version": 1, "stacks": {stem: entry}}``); a run replaces the entries of
its own stacks and keeps the others. Every file a batch leaves is written
under a hidden temporary name beside its target and renamed into place when
complete (``os.replace`` is atomic within a file system), so whatever
carries the final name is whole: an interrupted run leaves at most a
``.<name>.partial-*`` file, which the next run of that stack removes.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = ["DONE", "FAILED", "REPORT_NAME", "BatchReport", "StackEntry", "is_complete",
           "read_entries", "remove_partials", "write_atomically", "write_report"]

REPORT_NAME = "batch-report.json"
DONE, FAILED = "done", "failed"


@dataclass(frozen=True)
class StackEntry:
    """What happened to one stack (``frames``: frames segmented; ``objects``: ids written)."""

    stack: str
    output: str
    status: str
    frames: int = 0
    objects: int = 0
    seconds: float = 0.0
    worker: str | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, data: Mapping) -> StackEntry:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class BatchReport:
    """The entries of one run's stacks (by stem, in input order), where the report
    was written, and the stems skipped because their output was already complete."""

    entries: dict[str, StackEntry]
    path: Path
    skipped: tuple[str, ...] = ()

    @property
    def failed(self) -> list[str]:
        return [stem for stem, e in self.entries.items() if e.status != DONE]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line: how many stacks were done, skipped and failed (naming the failures)."""
        n, failed = len(self.entries), self.failed
        text = f"{n - len(failed)} of {n} stacks done ({len(self.skipped)} already complete)"
        if failed:
            text += f"; {len(failed)} failed: {', '.join(failed)}"
        return f"{text}; report: {self.path}"


def read_entries(path: Path) -> dict[str, StackEntry]:
    """The entries of an existing report (none if absent or unreadable: then all is redone)."""
    try:
        data = json.loads(Path(path).read_text())
        return {stem: StackEntry.from_json(e) for stem, e in data["stacks"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_report(path: Path, entries: Mapping[str, StackEntry]) -> None:
    """Write the whole report atomically (a reader never sees half of it)."""
    text = json.dumps({"version": 1, "stacks": {s: asdict(e) for s, e in entries.items()}},
                      indent=1)
    write_atomically(Path(path), lambda tmp: tmp.write_text(text + "\n"))


def is_complete(entry: StackEntry | None, output: Path) -> bool:
    """Whether a stack needs no work: reported done, into this output, which is there."""
    if entry is None or entry.status != DONE or Path(entry.output) != output:
        return False
    return (output / "res_track.txt").is_file() if output.is_dir() else output.is_file()


def _partial_name(target: Path) -> Path:
    # Hidden, and the suffix kept (tifffile and readers go by it): ".a.tif.partial-1f2e.tif".
    return target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}{target.suffix}")


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    else:
        for child in path.iterdir():
            _fsync(child)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` a file or folder under a temporary name, then rename it to ``target``.

    On any error (or interrupt) the temporary is removed and ``target`` is
    left as it was. A folder replacing an existing folder is swapped in with
    two renames (a folder cannot be renamed onto a non-empty one).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial_name(target)
    try:
        write(tmp)
        _fsync(tmp)  # the data is on disk before the name says it is finished
        if tmp.is_dir() and target.exists():
            old = _partial_name(target)
            os.replace(target, old)
            os.replace(tmp, target)
            _remove(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def remove_partials(target: Path) -> None:
    """Remove temporaries an earlier, killed run left beside ``target``."""
    target = Path(target)
    for stale in target.parent.glob(f".{target.name}.partial-*"):
        _remove(stale)
