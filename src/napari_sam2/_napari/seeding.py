"""Seeds from a Labels layer and "Track all" in napari (no Qt widgets here).

``seed_from_layer``: every label of a Labels layer's plane at the shown
frame becomes an object of the controller's session (a mask prompt).
``track_all_from_layer``: seed the shown frame, track every object forward,
re-seed every k frames from the same layer, and write each frame's track ids
into the output Labels layer as it is final (progress per frame; a cancelled
run keeps its frames), the whole run one undoable edit (hand-painted labels are kept
unless overwrite is on). Model work runs in a worker thread
(:class:`PropagationRun`); the writes happen on the GUI thread.
"""

from __future__ import annotations

import numpy as np

from napari_sam2._napari import notify
from napari_sam2._napari.layout import StackLayout
from napari_sam2._napari.propagation import PropagationRun
from napari_sam2.engine.lineage import ReseedRules
from napari_sam2.engine.seeding import check_label_image, seed_from_labels
from napari_sam2.engine.track_all import TrackAllOptions, TrackAllResult, iter_track_all

__all__ = ["LayerSeeds", "TrackAllJob", "seed_from_layer", "track_all_from_layer"]


class LayerSeeds:
    """A Labels layer's data as a seed source: its plane at each frame of ``layout``
    (a 2-D layer seeds every frame with the same image). The data is copied once,
    so the worker never reads a layer the GUI is editing."""

    def __init__(self, layer, layout: StackLayout) -> None:
        data = np.array(layer.data, copy=True)
        if data.ndim != 2 and tuple(data.shape) != tuple(layout.labels_shape):
            raise ValueError(f"labels layer '{layer.name}' has shape {data.shape}; seeds need "
                             f"one slice {layout.spatial_shape} or {tuple(layout.labels_shape)}")
        self.data, self.layout, self.name = data, layout, layer.name

    def label_image(self, frame: int) -> np.ndarray:
        if self.data.ndim == 2:
            return self.data
        return self.data[self.layout.labels_index(frame)]


class TrackAllJob:
    """A running or finished "Track all": its propagation run and, once done, its result."""

    def __init__(self) -> None:
        self.run: PropagationRun | None = None
        self.result: TrackAllResult | None = None
        self.layout: StackLayout | None = None


def _start(controller, st, name: str, work, total: int, on_result,
           on_finished=None) -> PropagationRun:
    """Run the generator ``work`` in a worker (inline when not threaded) as the controller's
    run. Everything it changes (session, labels) is one step ``name`` of the plugin's
    undo history; ``on_result(result, editor)`` writes on the GUI thread."""
    if controller.is_running:
        raise ValueError("a propagation is already running")
    editor = controller.editor
    action = controller._begin_action(name, st, editor)

    done = 0

    def write(result) -> None:
        nonlocal done
        with editor.record(action.changes):
            on_result(result, editor)
        done += 1
        controller.progress.emit(done, total)  # the dock's progress bar

    def on_done(cancelled, error):
        controller.history.push(action)
        controller.running_changed.emit(False)
        controller.objects_changed.emit()
        if error is not None:
            notify.error(f"SAM 2: {error}")
        if on_finished is not None:
            on_finished(error)

    controller.run = PropagationRun(work, total, write, on_done, controller.threaded)
    controller.running_changed.emit(True)
    controller.progress.emit(0, total)
    return controller.run.start()


@notify.reports_errors
def seed_from_layer(controller, layer, frame: int | None = None) -> PropagationRun:
    """Every label of ``layer`` on ``frame`` (default: the shown one) becomes the object
    of that id, with the label as its mask prompt; the masks are written undoably."""
    controller.ensure_layers()
    st = controller.state()
    frame = controller.current_frame() if frame is None else frame
    plane = check_label_image(LayerSeeds(layer, st.layout).label_image(frame),
                              st.session.frame_shape)
    if not plane.any():
        raise ValueError(f"labels layer '{layer.name}' has no label on slice {frame}")

    def work():
        seed_from_labels(st.session, frame, plane, ids="labels")
        yield st.session.result(frame)

    return _start(controller, st, "seed from labels", work(), 1,
                  lambda result, editor: controller.write_result(result, st.layout,
                                                                 editor=editor))


@notify.reports_errors
def track_all_from_layer(controller, layer, reseed_every: int | None = None,
                         min_area: int = 10, on_finished=None) -> TrackAllJob:
    """Seed the shown frame from ``layer``, track all objects to the end of the stack,
    re-seed every ``reseed_every`` frames; the track ids are written as one undo step.
    ``on_finished(job)`` runs on the GUI thread at the end."""
    controller.ensure_layers()
    st = controller.state()
    start = controller.current_frame()
    seeds = LayerSeeds(layer, st.layout)
    options = TrackAllOptions(start=start, reseed_every=reseed_every or None,
                              rules=ReseedRules(min_area=max(int(min_area), 1)))
    options.frame_range(st.session.num_frames)
    job = TrackAllJob()
    job.layout = st.layout

    def work():  # in the worker: each frame's track ids once they are final
        for frame, result in iter_track_all(st.session, seeds, options):
            yield frame, result.labels[frame].copy(), result

    def on_result(item, editor) -> None:
        frame, plane, result = item
        job.result = result  # filled as the run goes: a cancelled run keeps its frames
        _write_plane(controller, editor, st.layout, frame, plane)

    def finished(error):
        if on_finished is not None:
            on_finished(job)

    first, stop = options.frame_range(st.session.num_frames)
    job.run = _start(controller, st, "track all", work(), stop - first, on_result, finished)
    return job


def _write_plane(controller, editor, layout: StackLayout, frame: int, plane: np.ndarray) -> None:
    """Write one frame's track ids (overwrite as the settings say)."""
    ids = [int(i) for i in np.unique(plane) if i]
    if ids:
        editor.write_plane(layout.labels_index(frame), ids, [plane == i for i in ids],
                           controller.settings.overwrite)
        controller.frame_written.emit(frame)
