"""Propagation runs of the controller: start after pending clicks, write, cancel."""

from __future__ import annotations

from napari_sam2._napari import notify
from napari_sam2._napari.propagation import PropagationRun
from napari_sam2.engine.plan import iterate_plan, make_plan


class Propagating:
    """Propagation verbs of :class:`Sam2Controller` (a mixin: it uses the
    controller's sessions, editors, jobs and signals)."""

    @property
    def busy(self) -> bool:
        """True while any model step is pending or running (a click, a load, a run)."""
        return (
            self.is_running or self._loading is not None or self.jobs.busy or self.prefetcher.busy
        )

    @property
    def is_running(self) -> bool:
        return self.run is not None and not self.run.finished

    @notify.reports_errors
    def propagate(
        self,
        direction: str = "forward",
        first: int | None = None,
        last: int | None = None,
        start: int | None = None,
    ) -> PropagationRun | None:
        """Propagate all objects over ``[first, last]`` from ``start`` (default: the
        first prompted slice); each slice is written as it arrives; one undo step.

        Clicks still being segmented go first: then the run starts when they are
        done (and None is returned)."""
        if self.is_running:
            raise ValueError("a propagation is already running")
        self._update_prompts()
        if self._loading is not None:
            return None  # the prompts are used when the model is ready; run again then
        if self.jobs.busy:
            self.jobs.submit("propagate", lambda: self._start_run(direction, first, last, start))
            return None
        self._start_run(direction, first, last, start)
        return self.run

    @notify.reports_errors
    def _start_run(self, direction, first, last, start) -> None:
        st = self.state()
        plan = make_plan(st.session, direction, first, last, start)
        editor = self.editor  # the run writes to its own image's labels, whatever is shown
        action = self._begin_action("propagation", st, editor)
        editor.begin_record(action.changes)  # the whole run is one undo step
        self.progress.emit(0, plan.total)
        visited = set()

        def on_frame(result):
            self.write_result(result, st.layout, editor=editor)
            visited.add(result.frame)
            # Long-stack mode yields changed frames again at the end: those add no progress.
            done = min(self.run.done, plan.total)
            self.progress.emit(done, plan.total)
            if not self.run.cancel_requested:
                self._on_busy(f"SAM 2: propagating… {done} / {plan.total}")

        def on_done(cancelled, error):
            if cancelled and st.session.memory_tree is not None:
                # The session kept the best pathway's path of the frames visited so far.
                for frame in sorted(visited):
                    self.write_result(st.session.result(frame), st.layout, editor=editor)
            editor.end_record()
            self.history.push(action)
            self._on_busy(None)
            self.running_changed.emit(False)
            if getattr(self, "_edited_while_running", False):  # catch up on those edits
                self._edited_while_running = False
                self.update_prompts()
            if error is not None:
                notify.error(f"propagation failed: {error}")
            elif cancelled:
                notify.info(f"propagation cancelled after {self.run.done} of {plan.total} slices")
            self.prefetcher.request()  # the slice shown is likely the next to be refined

        self.run = PropagationRun(
            iterate_plan(st.session, plan), plan.total, on_frame, on_done, self.threaded
        )
        self.running_changed.emit(True)
        if self.threaded:
            self._on_busy(f"SAM 2: propagating… 0 / {plan.total}")
        self.run.start()

    def cancel(self) -> None:
        """Stop the running propagation after the slice being computed."""
        if self.is_running and not self.run.cancel_requested:
            self._on_busy("SAM 2: stopping after this slice…")
            self.stopping.emit()
            self.run.cancel()

    def switch_image(self, image):
        """As :meth:`LayerBinding.switch_image`; the progress shown starts afresh."""
        mine = super().switch_image(image)
        if not self.is_running:
            try:
                frames = self.base_layout().num_frames
            except (ValueError, AttributeError):
                frames = 0
            self.progress.emit(0, frames)
        return mine
