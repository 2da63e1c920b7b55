"""Targeted re-propagation in the plugin: re-track the corrected object only.

A mixin of the controller (it uses the controller's session, editor, signals
and :class:`PropagationRun`); the tracking itself is the engine's
:mod:`napari_sam2.engine.retrack`. Only the re-tracked object's label is
written, and never over another object's pixels, so other objects' labels
stay as they are; the run is one undo step.
"""

from __future__ import annotations

from napari_sam2._napari import notify
from napari_sam2._napari.propagation import PropagationRun
from napari_sam2.engine.retrack import plan_retrack, run_retrack


class Retracking:
    """``retrack``: the controller's verb for a targeted re-propagation."""

    @notify.reports_errors
    def retrack(
        self,
        frame: int | None = None,
        obj_id: int | None = None,
        reverse: bool = False,
        agree_iou: float | None = None,
        agree_frames: int = 3,
    ) -> PropagationRun | None:
        """Re-track ``obj_id`` (default: the selected label) from ``frame`` (default:
        the slice shown) to its next prompted slice, or the end of the stack; with
        ``agree_iou``, stop once ``agree_frames`` slices in a row agree with the old
        masks. Other objects' labels are not touched."""
        if self.is_running:
            raise ValueError("a propagation is already running")
        self._update_prompts()
        st = self.state()
        frame = self.current_frame() if frame is None else frame
        obj_id = self.current_object if obj_id is None else obj_id
        plan = plan_retrack(st.session, obj_id, frame, reverse, agree_iou, agree_frames)
        editor = self.editor
        action = self._begin_action("re-track", st, editor)
        editor.begin_record(action.changes)  # the whole re-track is one undo step
        self.progress.emit(0, plan.total)
        frames: set[int] = set()

        def on_frame(result) -> None:
            # Never over other objects' pixels, whatever the overwrite setting.
            editor.write_plane(st.layout.labels_index(result.frame), result.obj_ids,
                               result.masks, False)
            self.frame_written.emit(result.frame)
            frames.add(result.frame)
            self.progress.emit(min(self.run.done, plan.total), plan.total)

        def on_done(cancelled: bool, error) -> None:
            editor.end_record()
            self.history.push(action)
            self.progress.emit(plan.total, plan.total)
            self.running_changed.emit(False)
            self.objects_changed.emit()
            if getattr(self, "_edited_while_running", False):
                self._edited_while_running = False
                self.update_prompts()
            if error is not None:
                notify.error(f"re-tracking failed: {error}")
                return
            span = f"{min(frames)}..{max(frames)}" if frames else "no slices"
            early = len(frames) < plan.total and not cancelled
            notify.info(
                f"re-tracked object {plan.obj_id} on slices {span}"
                + (" (stopped early: the masks agreed with the old ones)" if early else "")
                + (" (cancelled)" if cancelled else "")
            )

        self.run = PropagationRun(
            run_retrack(st.session, plan), plan.total, on_frame, on_done, self.threaded
        )
        self.running_changed.emit(True)
        return self.run.start()
