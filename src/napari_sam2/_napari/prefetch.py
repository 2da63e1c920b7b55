"""Getting the shown slice ready for a click while the user looks at it.

A click is answered in a model job (``jobs.py``) off the GUI thread. Its
expensive part is not the answer itself but what precedes it: encoding the
slice (seconds on a CPU) and, on a slice that was tracked, conditioning it
on the object's memories. The :class:`Prefetcher` does that work in a
napari worker as soon as the viewer settles on a slice
(``VideoSession.prepare``), one job at a time; the click then finds it
done. It never changes any result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class Prefetcher:
    """Runs ``session.prepare(frame, obj_id)`` jobs in a worker, newest request wins.

    ``target()`` says what to prepare now: ``(session, frame, obj_id)``, or
    None when there is nothing to do (no model yet, a propagation running...).
    """

    def __init__(self, target: Callable[[], tuple | None]) -> None:
        self.target = target
        self.worker = None
        self._again = False
        self.done: deque[tuple[int, int | None]] = deque(maxlen=16)  # (frame, obj_id) prepared

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def request(self) -> None:
        """Prepare what ``target`` names now (after the job in progress, if any)."""
        if self.worker is not None:
            self._again = True
            return
        job = self.target()
        if job is None:
            return
        from napari.qt.threading import create_worker

        session, frame, obj_id = job
        worker = create_worker(session.prepare, frame, obj_id,
                               _start_thread=False, _ignore_errors=True)
        # A failure here is reported by the click that needs the same work.
        worker.returned.connect(lambda *_: self.done.append((frame, obj_id)))
        worker.finished.connect(self._finished)
        self.worker = worker
        worker.start()

    def _finished(self) -> None:
        self.worker = None
        if self._again:
            self._again = False
            self.request()
