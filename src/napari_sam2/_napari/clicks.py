"""Prompt-layer edits -> session calls in a worker -> Labels on the GUI thread.

:class:`PromptSync` is the controller's click path (a mixin: it uses the
controller's layers, sessions, editors and :class:`~napari_sam2._napari.jobs.ModelJobs`).
An edit of the prompt layers queues one job; the job reads the layers when it
starts (so edits made while the model works are merged, the latest state
winning), sends the changed (frame, object) prompts to the session in a
worker thread, and writes the answers into the image's own Labels layer
back on the GUI thread, as one undo step.
"""

from __future__ import annotations

import numpy as np

from napari_sam2._napari import notify
from napari_sam2._napari.jobs import Job
from napari_sam2._napari.models import is_loaded
from napari_sam2._napari.prompts import FramePrompt, collect_prompts, points_outside

PROMPTS = "prompts"  # the kind of the click job (one waits at a time)


class PromptSync:
    """The click path of :class:`Sam2Controller`."""

    def _update_prompts(self) -> None:
        if self._loading is not None:
            notify.info("the model is still loading: your prompts are used when it is ready")
            return
        if self.is_running:
            self._edited_while_running = True
            notify.warning("propagation is running: the new prompts are used once it ends")
            return
        self.ensure_layers()
        if self.threaded and not is_loaded(self.model_spec):
            self.preload_model()  # the prompts are segmented when it is ready
            notify.info("loading the model: your prompts are used when it is ready")
            return
        self.jobs.submit(PROMPTS, self._prompt_job)

    def _drop_outside_points(self, layout) -> None:
        """Remove points clicked outside the image, with a message."""
        outside = points_outside(self.points_layer, self.labels_layer, layout)
        if not outside:
            return
        self._muted = True
        try:
            self.points_layer.selected_data = set(outside)
            self.points_layer.remove_selected()
        finally:
            self._muted = False
        notify.warning(
            f"SAM 2: removed {len(outside)} point(s) clicked outside the image "
            f"({layout.spatial_shape[1]} x {layout.spatial_shape[0]} pixels)"
        )

    def _prompt_job(self) -> Job | None:
        """The job for the prompt layers as they are now (GUI thread), or None."""
        if self.image_layer is None or self.points_layer is None:
            return None
        st = self.state()
        self._drop_outside_points(st.layout)
        editor, layout = self.editor, st.layout
        now = collect_prompts(
            self.points_layer, self.shapes_layer, self.labels_layer, layout, self.current_object
        )
        todo = [(key, now.get(key, FramePrompt())) for key in st.changed(now)]
        action = self._begin_action("click", st, editor) if todo else None
        for key, prompt in todo:
            st.mark_sent(key, prompt)  # a bad prompt is reported once, not on every edit
        self._mark_synced()
        if any(obj_id <= 0 for (_f, obj_id), _p in todo):
            notify.error("SAM 2: label 0 is the background: select a label id >= 1 for the object")
            todo = [(key, p) for key, p in todo if key[1] > 0]
        if not todo:
            if action is not None:
                action.release()
            return None
        session = st.session

        def work() -> list:
            answers = []
            for (frame, obj_id), prompt in todo:
                try:
                    answers.append((frame, obj_id, prompt, _ask(session, frame, obj_id, prompt)))
                except (ValueError, RuntimeError, IndexError, KeyError) as exc:
                    answers.append((frame, obj_id, prompt, exc))
            return answers

        def done(answers: list) -> None:
            errors = []
            with editor.record(action.changes):  # one undo step for this interaction
                for frame, obj_id, prompt, answer in answers:
                    self._candidate_index.pop((frame, obj_id), None)
                    if isinstance(answer, BaseException):
                        errors.append(answer)
                    elif prompt.empty:
                        editor.clear_object(obj_id, layout.labels_index(frame))
                    else:
                        self.write_result(answer, layout, only=obj_id, editor=editor)
            self.history.push(action)
            self.objects_changed.emit()
            if errors:
                notify.error(f"SAM 2: {errors[0]}")

        frames = sorted({frame for (frame, _o), _p in todo})
        return Job(work, done, self._job_failed, f"SAM 2: segmenting slice {frames[0]}…")

    def _job_failed(self, exc: BaseException) -> None:
        notify.error(f"SAM 2: {exc}")

    # -- candidates ----------------------------------------------------------------
    def _cycle_job(self, frame: int, obj_id: int) -> Job | None:
        st = self.state()
        editor, layout, session = self.editor, st.layout, st.session
        if obj_id not in session.obj_ids or session.candidates(frame, obj_id) is None:
            clicks = st.sent.get((frame, obj_id), FramePrompt())
            if len(clicks.points) > 1 or clicks.box is not None:
                notify.info(
                    f"SAM 2 offers candidate masks for a single click; object {obj_id} has "
                    f"{len(clicks.points)} click(s){' and a box' if clicks.box else ''} on this "
                    "slice: remove the extra ones to choose among candidates"
                )
            else:
                notify.info("no candidate masks here: click once on this slice first")
            return None
        iou = np.asarray(session.candidates(frame, obj_id).iou)
        # The first press shows the next candidate after the one shown (the best).
        shown = self._candidate_index.get((frame, obj_id), int(np.argmax(iou)))
        index = (shown + 1) % len(iou)

        action = self._begin_action("candidate choice", st, editor)

        def done(result) -> None:
            self._candidate_index[(frame, obj_id)] = index
            with editor.record(action.changes):
                self.write_result(result, layout, only=obj_id, editor=editor)
            self.history.push(action)
            notify.info(f"candidate {index + 1} of {len(iou)} (predicted IoU {iou[index]:.2f})")

        return Job(
            lambda: session.select_candidate(frame, obj_id, index), done, self._job_failed,
            "SAM 2: choosing a candidate…",
        )


def _ask(session, frame: int, obj_id: int, prompt: FramePrompt):
    """Make the session's prompt on ``frame`` this one (worker thread); its result."""
    box = None if prompt.box is None else np.asarray(prompt.box)
    points = np.asarray(prompt.points) if prompt.points else None
    labels = np.asarray(prompt.labels) if prompt.points else None
    return session.set_prompt(frame, obj_id, box=box, points=points, labels=labels)
