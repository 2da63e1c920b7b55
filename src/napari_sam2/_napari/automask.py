"""“Segment all on this slice”: the automatic mask generator in a napari worker.

The slice the viewer shows is read on the GUI thread (cheap, lazy data);
loading the model and the generator run in a worker thread; the label image
comes back through the worker's ``returned`` signal and is written on the
GUI thread into the output Labels layer as one undo step. New labels get
ids above every id in use, so they never merge with existing objects;
existing labels (hand-painted ones included) are kept unless the plugin's
overwrite setting is on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from napari_sam2._napari import notify
from napari_sam2._napari.models import get_model
from napari_sam2.engine.automask import AutoMaskGenerator, AutoMaskSettings
from napari_sam2.engine.automask_ops import paint_labels
from napari_sam2.engine.frames import open_frames

# Plugin defaults: the reference's, with a 16 x 16 grid (4x fewer clicks) for a
# first look on a CPU; the panel exposes the grid and thresholds.
PLUGIN_SETTINGS = AutoMaskSettings(points_per_side=16)


class SegmentAllRun:
    """One automatic segmentation of one slice; ``done`` once written (or failed)."""

    def __init__(self, controller, settings: AutoMaskSettings, order: str,
                 on_done: Callable[[int | None], None] | None) -> None:
        self.controller = controller
        self.settings, self.order, self.on_done = settings, order, on_done
        self.finished = False
        self.count: int | None = None  # objects written; None on failure
        self.worker = None

    def start(self, threaded: bool = True) -> SegmentAllRun:
        ctrl = self.controller
        ctrl.ensure_layers()
        layout = ctrl.layout()
        frame = ctrl.current_frame()
        image = ctrl.image_layer
        data = image.data[0] if image.multiscale else image.data
        pixels = open_frames(data, **layout.session_kwargs(ctrl.channel)).read(frame)
        self.frame, self.prefix = frame, layout.labels_index(frame)
        spec, settings, order = ctrl.model_spec, self.settings, self.order

        def compute() -> np.ndarray:
            generator = AutoMaskGenerator(get_model(spec), settings=settings)
            return paint_labels(generator.generate(pixels), pixels.shape[:2], order)

        if not threaded:
            try:
                self._write(compute())
            except Exception as exc:  # noqa: BLE001  (reported like the threaded path)
                self._failed(exc)
            return self
        from napari.qt.threading import create_worker

        self.worker = create_worker(compute, _start_thread=False, _ignore_errors=True,
                                    _progress={"desc": "SAM 2: segment all"})
        self.worker.returned.connect(self._write)
        self.worker.errored.connect(self._failed)
        self.worker.start()
        return self

    def _write(self, labels: np.ndarray) -> None:
        ctrl = self.controller
        try:
            n = int(labels.max()) if labels.size else 0
            first = ctrl.new_object_id()
            masks = [labels == k for k in range(1, n + 1)]
            ids = list(range(first, first + n))
            st, editor = ctrl.state(), ctrl.editor
            action = ctrl._begin_action("segment all", st, editor)
            with editor.record(action.changes):  # one step of the plugin's undo history
                editor.write_plane(self.prefix, ids, masks, ctrl.settings.overwrite)
            ctrl.history.push(action)
            ctrl.frame_written.emit(self.frame)
            self.count = n
            notify.info(f"SAM 2: {n} objects found on slice {self.frame}"
                        + (f" (labels {first}..{first + n - 1})" if n else ""))
        except Exception as exc:  # noqa: BLE001  a changed/removed layer: tell the user
            self._failed(exc)
            return
        self._finish()

    def _failed(self, exc: BaseException) -> None:
        notify.error(f"SAM 2: segment all failed: {exc}")
        self._finish()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.on_done is not None:
            self.on_done(self.count)


@notify.reports_errors
def segment_all(
    controller,
    settings: AutoMaskSettings | None = None,
    order: str = "area",
    on_done: Callable[[int | None], None] | None = None,
) -> SegmentAllRun | None:
    """Segment every object on the slice shown, off the GUI thread (inline when
    ``controller.threaded`` is False); the labels are one undoable edit.

    ``on_done(count)`` runs on the GUI thread at the end (count None: failed).
    Returns the run, or None when the input was unusable (reported).
    """
    if controller.is_running:
        raise ValueError("a propagation is running: segment all when it has finished")
    run = SegmentAllRun(controller, settings or PLUGIN_SETTINGS, order, on_done)
    return run.start(threaded=controller.threaded)
