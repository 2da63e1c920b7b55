"""The controller: napari layers in, ``VideoSession`` calls, Labels out.

It holds one session per (image layer, layout, channel, model) and keeps
track of which prompts each session has seen, so that any edit of the
Points/Shapes layers (add, move, delete, toggle) becomes the few session
calls that bring it up to date. No tracking logic lives here.
"""

from __future__ import annotations

import numpy as np
from psygnal import Signal

from napari_sam2._napari import notify
from napari_sam2._napari.labels import LabelsEditor
from napari_sam2._napari.layers import LayerBinding
from napari_sam2._napari.layout import StackLayout
from napari_sam2._napari.models import ModelSpec, get_model, is_loaded
from napari_sam2._napari.objects import ObjectEditing
from napari_sam2._napari.prefetch import Prefetcher
from napari_sam2._napari.prompts import FramePrompt, collect_prompts, place_records, to_records
from napari_sam2._napari.propagation import PropagationRun
from napari_sam2._napari.retrack import Retracking
from napari_sam2._napari.settings import PluginSettings
from napari_sam2._napari.state import SessionState
from napari_sam2.engine.plan import iterate_plan, make_plan


class Sam2Controller(LayerBinding, ObjectEditing, Retracking):
    """Drives SAM 2 from the layers of one napari viewer (no Qt widgets here)."""

    objects_changed = Signal()
    progress = Signal(int, int)  # done, total
    running_changed = Signal(bool)
    frame_written = Signal(int)

    def __init__(self, viewer) -> None:
        super().__init__(viewer)
        self.settings = PluginSettings()
        self.threaded = True
        self.run: PropagationRun | None = None
        self._states: dict[tuple, SessionState] = {}
        self._candidate_index: dict[tuple[int, int], int] = {}
        self._muted = False  # True while we edit the prompt layers ourselves
        self._loading = None  # the worker loading (maybe downloading) the model
        self._removed = None
        self.prefetcher = Prefetcher(self._prefetch_target)

    def apply_settings(self, settings: PluginSettings) -> None:
        """Use ``settings`` from now on: a new model choice gets its own session on the
        next click; post-processing applies to the masks computed from then on."""
        if not isinstance(settings, PluginSettings):
            raise TypeError(f"expected PluginSettings, got {type(settings).__name__}")
        self.settings = settings

    @property
    def model_spec(self) -> ModelSpec:
        """The model chosen by the settings."""
        return self.settings.model_spec

    @property
    def editor(self) -> LabelsEditor:
        """The one undo-grouping editor of the current Labels layer."""
        if getattr(self, "_editor", None) is None or self._editor.layer is not self.labels_layer:
            self._editor = LabelsEditor(self.labels_layer)
        return self._editor

    def preload_model(self) -> None:
        """Load (or download) the model in a worker thread so the viewer stays
        usable; prompts made meanwhile are segmented when it is ready."""
        spec = self.model_spec
        if self._loading is not None or is_loaded(spec) or not self.threaded:
            return
        from napari.qt.threading import create_worker

        def done(*_):
            self._loading = None
            self.update_prompts()
            self.prefetcher.request()

        def failed(exc):
            self._loading = None
            notify.error(f"SAM 2: could not load the model: {exc}")

        worker = create_worker(
            get_model,
            spec,
            _start_thread=False,
            _ignore_errors=True,
            _progress={"desc": f"loading {spec.preset}"},
        )
        worker.returned.connect(done)
        worker.errored.connect(failed)
        self._loading = worker
        worker.start()

    # -- sessions --------------------------------------------------------------
    def state(self, create: bool = True) -> SessionState | None:
        """The session for the current image/layout/channel/model (created on
        demand unless ``create`` is False: then None if there is none yet)."""
        from napari_sam2.engine.session import VideoSession

        layout = self.layout()
        key = (id(self.image_layer), layout, self.channel, self.model_spec)
        if key not in self._states:
            if not create:
                return None
            # Sessions without objects (another z visited, say) hold only cached
            # encodings: drop them rather than keep one cache per position.
            self._states = {k: s for k, s in self._states.items() if s.session.obj_ids}
            data = (
                self.image_layer.data[0] if self.image_layer.multiscale else self.image_layer.data
            )
            model = get_model(self.model_spec)
            session = VideoSession(model, data, **layout.session_kwargs(self.channel))
            self._states[key] = SessionState(session, layout)
        st = self._states[key]
        # Post-processing applies to the masks computed from now on.
        st.session.fill_hole_area = int(self.settings.fill_hole_area)
        st.session.non_overlap = bool(self.settings.non_overlap)
        st.session.memory_tree = self.settings.memory_tree
        return st

    def _prefetch_target(self):
        """What the prefetcher should prepare now: the shown slice for the selected
        object, once the model is loaded and while no propagation runs."""
        if not self.threaded or self.is_running or self._loading is not None:
            return None
        if not is_loaded(self.model_spec):
            return None
        try:
            st = self.state()  # cheap once the model is loaded
            frame = self.current_frame()
        except Exception:  # noqa: BLE001  nothing usable chosen yet: a click would say why
            return None
        obj_id = self.current_object
        return st.session, frame, obj_id if obj_id in st.session.obj_ids else None

    @property
    def session(self):
        """The current ``VideoSession`` (for scripting)."""
        return self.state().session

    # -- interaction -------------------------------------------------------------
    def on_prompts_edited(self, event=None) -> None:
        """Layer event handler: react to finished edits only (not 'adding'/'changing')."""
        action = str(getattr(event, "action", "changed"))
        if self._muted or action.rsplit(".", 1)[-1].lower() not in ("added", "removed", "changed"):
            return
        self.update_prompts()

    @notify.reports_errors
    def update_prompts(self) -> list[int]:
        """Send changed prompts to the session and write the frames they touch.

        Returns the frames written. Called after any edit of the prompt layers.
        """
        return self._update_prompts()

    def _update_prompts(self) -> list[int]:
        if self._loading is not None:
            notify.info("the model is still loading: your prompts are used when it is ready")
            return []
        if self.is_running:
            self._edited_while_running = True
            notify.warning("propagation is running: the new prompts are used once it ends")
            return []
        self.ensure_layers()
        st = self.state()
        now = collect_prompts(
            self.points_layer, self.shapes_layer, self.labels_layer, st.layout, self.current_object
        )
        changed = st.changed(now)
        written = []
        with self.editor.group():  # one undo step for this interaction
            for frame, obj_id in changed:
                prompt = now.get((frame, obj_id), FramePrompt())
                if obj_id <= 0:
                    st.mark_sent((frame, obj_id), prompt)
                    raise ValueError(
                        "label 0 is the background: select a label id >= 1 for the object"
                    )
                try:
                    result = self._send(st, frame, obj_id, prompt)
                finally:
                    # A bad prompt is reported once, not on every edit.
                    st.mark_sent((frame, obj_id), prompt)
                if result is not None:  # a click changes its own object only
                    self.write_result(result, st.layout, only=obj_id)
                written.append(frame)
        if changed:
            self.objects_changed.emit()
        return written

    def _send(self, st: SessionState, frame: int, obj_id: int, prompt: FramePrompt):
        """Make the session's prompt on ``frame`` this one; the frame's result, or
        None when the prompt is empty (the object's label there is cleared)."""
        self._candidate_index.pop((frame, obj_id), None)
        box = None if prompt.box is None else np.asarray(prompt.box)
        points = np.asarray(prompt.points) if prompt.points else None
        labels = np.asarray(prompt.labels) if prompt.points else None
        result = st.session.set_prompt(frame, obj_id, box=box, points=points, labels=labels)
        if prompt.empty:
            self.editor.clear_object(obj_id, st.layout.labels_index(frame))
            return None
        return result

    def write_result(
        self, result, layout: StackLayout | None = None, only: int | None = None
    ) -> None:
        """Write a ``FrameResult`` (all its objects, or ``only`` one) into the Labels
        layer; one undo step unless inside a group or run."""
        layout = layout or self.state().layout
        ids, masks = result.obj_ids, result.masks
        if only is not None:
            ids, masks = (only,), [result.mask_of(only)]
        self.editor.write_plane(
            layout.labels_index(result.frame), ids, masks, self.settings.overwrite
        )
        self.frame_written.emit(result.frame)

    @notify.reports_errors
    def cycle_candidate(self, frame: int | None = None, obj_id: int | None = None) -> int | None:
        """Show the next of the three candidate masks of the last click; returns its index."""
        st = self.state()
        frame = self.current_frame() if frame is None else frame
        obj_id = self.current_object if obj_id is None else obj_id
        if obj_id not in st.session.obj_ids or st.session.candidates(frame, obj_id) is None:
            notify.info("no candidate masks here: click once on this slice first")
            return None
        n = len(st.session.candidates(frame, obj_id).iou)
        index = (self._candidate_index.get((frame, obj_id), -1) + 1) % n
        self._candidate_index[(frame, obj_id)] = index
        self.write_result(st.session.select_candidate(frame, obj_id, index), st.layout, only=obj_id)
        return index

    @notify.reports_errors
    def add_mask_prompt(
        self,
        mask_layer,
        frame: int | None = None,
        obj_id: int | None = None,
        source_label: int | None = None,
    ) -> None:
        """Use a Labels layer's label on this slice as a mask prompt for an object."""
        self.ensure_layers()
        st = self.state()
        frame = self.current_frame() if frame is None else frame
        obj_id = self.current_object if obj_id is None else obj_id
        plane = np.asarray(mask_layer.data[st.layout.labels_index(frame)])
        if plane.shape != st.session.frame_shape:
            raise ValueError(
                f"mask layer '{mask_layer.name}' slice has shape {plane.shape}, "
                f"expected {st.session.frame_shape}"
            )
        label = mask_layer.selected_label if source_label is None else source_label
        self.write_result(
            st.session.add_mask(frame, obj_id, plane == label), st.layout, only=obj_id
        )
        self.objects_changed.emit()

    # -- prompts files -----------------------------------------------------------------
    @notify.reports_errors
    def save_prompts(self, path) -> int:
        """Write the prompts of the tracked plane to a .json/.csv prompts file (the
        command line's format); returns the number of (frame, object) entries."""
        from napari_sam2.engine.prompt_file import write_prompts

        self.ensure_layers()
        layout = self.layout()
        records = to_records(
            collect_prompts(
                self.points_layer, self.shapes_layer, self.labels_layer, layout, self.current_object
            )
        )
        if not records:
            raise ValueError("no prompts to save: click on an object (or draw a box) first")
        write_prompts(path, records)
        notify.info(f"saved {len(records)} prompt(s) to {path}")
        return len(records)

    @notify.reports_errors
    def load_prompts(self, path) -> int:
        """Add the prompts of a .json/.csv prompts file to the Points/Shapes layers on
        the tracked plane and segment their slices; returns the number of entries."""
        from napari_sam2.engine.prompt_file import check_prompts_fit, read_prompts

        records = read_prompts(path)
        self.ensure_layers()
        layout = self.layout()
        check_prompts_fit(records, layout.num_frames, layout.spatial_shape)
        self._muted = True  # one update for the whole file, not one per layer event
        try:
            place_records(records, self.points_layer, self.shapes_layer, self.labels_layer, layout)
        finally:
            self._muted = False
        self.update_prompts()
        return len(records)

    # -- propagation -------------------------------------------------------------------
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
        first prompted slice); each slice is written as it arrives; one undo step."""
        if self.is_running:
            raise ValueError("a propagation is already running")
        self._update_prompts()
        st = self.state()
        plan = make_plan(st.session, direction, first, last, start)
        editor = self.editor
        editor.begin_run()
        self.progress.emit(0, plan.total)

        visited = set()

        def on_frame(result):
            self.write_result(result, st.layout)
            visited.add(result.frame)
            # Long-stack mode yields changed frames again at the end: those add no progress.
            self.progress.emit(min(self.run.done, plan.total), plan.total)

        def on_done(cancelled, error):
            if cancelled and st.session.memory_tree is not None:
                # The session kept the best pathway's path of the frames visited so far.
                for frame in sorted(visited):
                    self.write_result(st.session.result(frame), st.layout)
            editor.end_run()
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
        return self.run.start()

    def cancel(self) -> None:
        """Stop the running propagation between frames."""
        if self.is_running:
            self.run.cancel()
