"""Model steps off the GUI thread, one at a time, results handled on the GUI thread.

A click, a candidate choice or a mask prompt asks the session for a model
step (seconds on a CPU at the default input size). :class:`ModelJobs` runs
each in a napari worker and hands the answer back to the GUI thread, where
the layers are written. Jobs are queued in order; a queued job is made by a
*factory* called when the job starts, so a job queued behind a slow one
reads the prompt layers as they are then (clicks that arrive meanwhile are
merged into one job, the latest state winning). With ``threaded`` False
(scripts, the console) each job runs inline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from napari_sam2._napari import notify

__all__ = ["Job", "ModelJobs"]


@dataclass(frozen=True)
class Job:
    """``work()`` runs off the GUI thread; ``done(answer)`` or ``failed(exc)`` on it."""

    work: Callable[[], Any]
    done: Callable[[Any], None]
    failed: Callable[[BaseException], None]
    label: str = "SAM 2: segmenting…"


class ModelJobs:
    """A queue of model jobs; ``busy_changed(label or None)`` drives the busy cue."""

    def __init__(self, busy_changed: Callable[[str | None], None] | None = None) -> None:
        self.threaded = True
        self.busy_changed = busy_changed or (lambda _label: None)
        self._queue: deque[tuple[str, Callable[[], Job | None]]] = deque()
        self.worker = None

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        return self.worker is not None or bool(self._queue)

    def queued(self, kind: str) -> bool:
        """Whether a job of ``kind`` waits to start (it will read the latest state)."""
        return any(k == kind for k, _ in self._queue)

    def submit(self, kind: str, factory: Callable[[], Job | None]) -> None:
        """Queue a job; ``factory()`` makes it when its turn comes (None: nothing to do).
        A job of a ``kind`` already waiting is not queued twice."""
        if self.queued(kind):
            return
        self._queue.append((kind, factory))
        if self.worker is None:
            self._next()

    def _next(self) -> None:
        while self._queue and self.worker is None:
            _kind, factory = self._queue.popleft()
            try:
                job = factory()
            except (ValueError, RuntimeError, OSError, KeyError, IndexError) as exc:
                notify.error(f"SAM 2: {exc}")  # as reports_errors would; the queue goes on
                continue
            if job is None:
                continue
            if not self.threaded:
                self._inline(job)
                continue
            self._start(job)
        if not self.busy:
            self.busy_changed(None)

    def _inline(self, job: Job) -> None:
        try:
            answer = job.work()
        except Exception as exc:  # noqa: BLE001  (the job reports it, as in a worker)
            job.failed(exc)
        else:
            job.done(answer)

    def _start(self, job: Job) -> None:
        from napari.qt.threading import create_worker

        worker = create_worker(job.work, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(job.done)
        worker.errored.connect(job.failed)
        worker.finished.connect(self._finished)
        self.worker = worker
        self.busy_changed(job.label)
        worker.start()

    def _finished(self) -> None:
        self.worker = None
        self._next()
