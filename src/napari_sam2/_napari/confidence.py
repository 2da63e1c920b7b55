"""The confidence timeline's side in napari: which tracks to draw, where a frame is.

No Qt here: the plot lives in ``_widgets/confidence_timeline.py``. The
tracks come from the engine's :func:`~napari_sam2.engine.confidence.confidence_tracks`
query on the current session; a frame of the session is turned into the
viewer's slider position through the image layer's own geometry.
"""

from __future__ import annotations

import numpy as np

from napari_sam2.engine.confidence import ConfidenceTrack, confidence_tracks


def timeline_tracks(controller) -> dict[int, ConfidenceTrack]:
    """Every object's confidence in the current session ({} when there is none yet)."""
    try:
        st = controller.state(create=False)
    except (ValueError, AttributeError, IndexError):
        return {}
    if st is None:
        return {}
    return confidence_tracks(st.session)


def frame_count(controller) -> int:
    """Frames of the current image along the frame axis (1 for a single image, 0: no image)."""
    image, axis = controller.image_layer, controller.frame_axis
    if image is None:
        return 0
    if axis is None:
        return 1
    shape = image.data[0].shape if image.multiscale else image.data.shape
    return int(shape[axis]) if 0 <= axis < len(shape) else 0


def shown_frame(controller) -> int | None:
    """The frame the viewer shows (None when no image is chosen)."""
    try:
        return controller.current_frame()
    except (ValueError, AttributeError, IndexError):
        return None


def jump_to_frame(controller, frame: int) -> None:
    """Move napari's slider of the frame axis to ``frame`` (other axes stay)."""
    image = controller.image_layer
    axis = controller.frame_axis
    if image is None or axis is None:
        return
    n = image.data.shape[axis] if not image.multiscale else image.data[0].shape[axis]
    frame = int(np.clip(frame, 0, n - 1))
    viewer = controller.viewer
    point = np.asarray(image.world_to_data(viewer.dims.point), dtype=float)
    point[axis] = frame
    world = np.asarray(image.data_to_world(point), dtype=float)
    viewer.dims.set_point(viewer.dims.ndim - image.ndim + axis, float(world[axis]))


def object_color(controller, obj_id: int) -> tuple[int, int, int]:
    """The RGB colour (0..255) the output Labels layer paints ``obj_id`` with."""
    layer = controller.labels_layer
    try:
        rgba = np.asarray(layer.get_color(obj_id), dtype=float).ravel()
    except (AttributeError, TypeError, ValueError):
        rgba = None
    if rgba is None or rgba.size < 3:
        return (200, 200, 200)
    return tuple(int(round(c * 255)) for c in rgba[:3])
