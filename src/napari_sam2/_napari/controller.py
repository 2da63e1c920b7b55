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
from napari_sam2._napari.clicks import PromptSync
from napari_sam2._napari.jobs import Job, ModelJobs
from napari_sam2._napari.labels import LabelsEditor
from napari_sam2._napari.layers import LayerBinding
from napari_sam2._napari.layout import StackLayout
from napari_sam2._napari.models import ModelSpec, get_model, is_loaded
from napari_sam2._napari.objects import ObjectEditing
from napari_sam2._napari.prefetch import Prefetcher
from napari_sam2._napari.prompts import collect_prompts, place_records, to_records
from napari_sam2._napari.retrack import Retracking
from napari_sam2._napari.running import Propagating
from napari_sam2._napari.settings import PluginSettings
from napari_sam2._napari.state import SessionState
from napari_sam2._napari.undo import UndoHistory, Undoing


class Sam2Controller(Propagating, Retracking, Undoing, LayerBinding, ObjectEditing, PromptSync):
    """Drives SAM 2 from the layers of one napari viewer (no Qt widgets here)."""

    objects_changed = Signal()
    progress = Signal(int, int)  # done, total
    running_changed = Signal(bool)
    frame_written = Signal(int)
    stopping = Signal()  # Cancel was pressed: the run stops after the slice being computed
    busy_changed = Signal(object)  # a "working…" text while a model step runs, else None

    def __init__(self, viewer) -> None:
        super().__init__(viewer)
        self.settings = PluginSettings()
        self.jobs = ModelJobs(self._on_busy)
        self.threaded = True
        self.run = None  # the PropagationRun, once one started
        self._states: dict[tuple, SessionState] = {}
        self._candidate_index: dict[tuple[int, int], int] = {}
        self._muted = False  # True while we edit the prompt layers ourselves
        self._loading = None  # the worker loading (maybe downloading) the model
        self.history = UndoHistory()  # one Ctrl+Z undoes one user action everywhere
        self._synced: dict = {}  # id(points layer) -> PromptLayers the session last saw
        self._editors: dict[int, LabelsEditor] = {}
        self.prefetcher = Prefetcher(self._prefetch_target)

    @property
    def threaded(self) -> bool:
        """Model steps run in worker threads (False: inline, for scripts and the console)."""
        return self.jobs.threaded

    @threaded.setter
    def threaded(self, value: bool) -> None:
        self.jobs.threaded = bool(value)

    def _on_busy(self, label: str | None) -> None:
        """The busy cue: a text over the canvas while a model step runs."""
        overlay = self.viewer.text_overlay
        if label is not None:
            overlay.text = label
        overlay.visible = label is not None
        self.busy_changed.emit(label)

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
        return self.editor_for(self.labels_layer)

    def editor_for(self, layer) -> LabelsEditor:
        """The one undo-grouping editor of ``layer`` (one per Labels layer, kept)."""
        editor = self._editors.get(id(layer))
        if editor is None or editor.layer is not layer:
            editor = self._editors[id(layer)] = LabelsEditor(layer)
        return editor

    def preload_model(self) -> None:
        """Load (or download) the model in a worker thread so the viewer stays
        usable; prompts made meanwhile are segmented when it is ready."""
        spec = self.model_spec
        if self._loading is not None or is_loaded(spec) or not self.threaded:
            return
        from napari.qt.threading import create_worker

        def done(*_):
            self._loading = None
            self._on_busy(None)
            self.update_prompts()
            self.prefetcher.request()

        def failed(exc):
            self._loading = None
            self._on_busy(None)
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
        self._on_busy(f"SAM 2: loading {spec.preset}…")
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
    def update_prompts(self) -> None:
        """Bring the session up to date with the prompt layers (after any edit).

        The model steps run in a worker: this returns at once, and the masks are
        written when ready (inline, before returning, when not ``threaded``).
        """
        self._update_prompts()

    def write_result(
        self,
        result,
        layout: StackLayout | None = None,
        only: int | None = None,
        editor: LabelsEditor | None = None,
    ) -> None:
        """Write a ``FrameResult`` (all its objects, or ``only`` one) into the Labels
        layer (``editor``'s: a run keeps writing to its own image's labels); one
        undo step unless inside a group or run."""
        layout = layout or self.state().layout
        ids, masks = result.obj_ids, result.masks
        if only is not None:
            ids, masks = (only,), [result.mask_of(only)]
        (editor or self.editor).write_plane(
            layout.labels_index(result.frame), ids, masks, self.settings.overwrite
        )
        self.frame_written.emit(result.frame)

    def shown_selection(self, layer) -> list[int]:
        """The selected points of ``layer`` that lie on the slice shown now."""
        if not layer.selected_data or self.labels_layer is None:
            return []
        layout, frame = self.layout(), self.current_frame()
        picked = sorted(layer.selected_data)
        to_labels = self.labels_layer.world_to_data
        coords = [to_labels(layer.data_to_world(layer.data[i])) for i in picked]
        return [i for i, c in zip(picked, coords) if layout.frame_of(np.asarray(c)) == frame]

    @notify.reports_errors
    def cycle_candidate(self, frame: int | None = None, obj_id: int | None = None) -> None:
        """Show the next of the three candidate masks of the last click (after the
        clicks being segmented, if any)."""
        frame = self.current_frame() if frame is None else frame
        obj_id = self.current_object if obj_id is None else obj_id
        self.jobs.submit(f"cycle {frame} {obj_id}", lambda: self._cycle_job(frame, obj_id))

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
        session, layout, editor = st.session, st.layout, self.editor

        def job() -> Job:
            action = self._begin_action("mask prompt", st, editor)

            def done(result) -> None:
                with editor.record(action.changes):
                    self.write_result(result, layout, only=obj_id, editor=editor)
                self.history.push(action)
                self.objects_changed.emit()

            return Job(
                lambda: session.add_mask(frame, obj_id, plane == label), done, self._job_failed,
                f"SAM 2: segmenting slice {frame}…",
            )

        self.jobs.submit("mask", job)

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
