"""Running ``VideoSession.propagate`` in a napari worker, frame by frame.

The session's generator runs in a worker thread; each finished frame comes
back to the GUI thread through the worker's ``yielded`` signal and is
written there. ``worker.quit()`` stops between frames, so frames already
written stay. The generator is closed on the GUI thread once the worker is
done (never while it runs). Which frames a run visits is the engine's
:mod:`napari_sam2.engine.plan`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator


class PropagationRun:
    """One propagation: a worker over a result generator plus GUI-side callbacks.

    ``on_frame(result)`` runs on the GUI thread for every yielded result;
    ``on_done(cancelled, error)`` once at the end. With ``threaded=False``
    everything runs inline (scripts, the console, tests without a Qt loop).
    """

    def __init__(
        self,
        results: Iterator,
        total: int,
        on_frame: Callable,
        on_done: Callable,
        threaded: bool = True,
    ) -> None:
        self.results, self.total = results, total
        self.on_frame, self.on_done = on_frame, on_done
        self.threaded = threaded
        self.done = 0
        self.cancel_requested = False
        self.finished = False
        self.worker = None
        self._error: BaseException | None = None

    def start(self) -> PropagationRun:
        if not self.threaded:
            try:
                for result in self.results:
                    self._frame(result)
                    if self.cancel_requested:
                        break
            except Exception as exc:  # noqa: BLE001  (reported by on_done, like the threaded path)
                self._error = exc
            self._finish()
            return self
        from napari.qt.threading import create_worker

        # napari's own progress bar (activity dock) ticks on every yield;
        # errors come to us (and become notifications), not to the console.
        self.worker = create_worker(
            self._pump,
            _start_thread=False,
            _ignore_errors=True,
            _progress={"total": self.total, "desc": "SAM 2 propagation"},
        )
        self.worker.yielded.connect(self._frame)
        self.worker.errored.connect(self._errored)
        self.worker.finished.connect(self._finish)
        self.worker.start()
        return self

    def _pump(self):
        # A plain generator for the worker: it checks quit() between yields.
        yield from self.results

    def cancel(self) -> None:
        """Stop after the frame being computed; finished frames stay written."""
        self.cancel_requested = True
        if self.worker is not None:
            self.worker.quit()

    def _frame(self, result) -> None:
        if self.finished:
            return
        self.done += 1
        self.on_frame(result)

    def _errored(self, exc: BaseException) -> None:
        self._error = exc

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        close = getattr(self.results, "close", None)
        if close is not None:
            try:
                close()
            except ValueError:  # still executing: the worker thread has not let go yet
                pass
        self.on_done(self.cancel_requested, self._error)
