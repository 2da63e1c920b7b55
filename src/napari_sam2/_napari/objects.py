"""The object list: listing, deleting and restoring objects (labels and prompts)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_sam2._napari import notify
from napari_sam2._napari.prompts import append_points


@dataclass
class RemovedPrompts:
    obj_id: int
    points: np.ndarray | None = None
    point_features: object = None
    shapes: list = field(default_factory=list)
    shape_types: list = field(default_factory=list)


def _indices(layer, obj_id: int) -> list[int]:
    if layer is None or "obj_id" not in layer.features or not len(layer.data):
        return []
    return np.flatnonzero(layer.features["obj_id"].to_numpy(int) == obj_id).tolist()


def remove_prompts(obj_id: int, points_layer, shapes_layer) -> RemovedPrompts:
    """Delete the object's points and boxes; returns what was removed."""
    removed = RemovedPrompts(obj_id)
    idx = _indices(points_layer, obj_id)
    if idx:
        removed.points = np.asarray(points_layer.data)[idx]
        removed.point_features = points_layer.features.iloc[idx].reset_index(drop=True)
        points_layer.selected_data = set(idx)
        points_layer.remove_selected()
    idx = _indices(shapes_layer, obj_id)
    if idx:
        removed.shapes = [shapes_layer.data[i] for i in idx]
        removed.shape_types = [shapes_layer.shape_type[i] for i in idx]
        shapes_layer.selected_data = set(idx)
        shapes_layer.remove_selected()
    return removed


def restore_prompts(removed: RemovedPrompts, points_layer, shapes_layer) -> None:
    """Put removed prompts back with their features."""
    if removed.points is not None and points_layer is not None:
        append_points(points_layer, removed.points, removed.point_features)
    if removed.shapes and shapes_layer is not None:
        defaults = shapes_layer.feature_defaults.iloc[0].to_dict()
        shapes_layer.feature_defaults = {**defaults, "obj_id": removed.obj_id}
        shapes_layer.add(removed.shapes, shape_type=removed.shape_types)
        shapes_layer.feature_defaults = defaults


class ObjectEditing:
    """Object-list operations of :class:`Sam2Controller` (a mixin: it uses the
    controller's layers, sessions and editor)."""

    # -- objects ---------------------------------------------------------------------
    def objects(self) -> list[tuple[int, tuple, list[int]]]:
        """``(obj_id, rgba, prompted frames)`` for every object with prompts."""
        try:
            st = self.state(create=False)  # listing must not load a model
        except (ValueError, AttributeError, RuntimeError, OSError):
            st = None  # nothing set up yet: an empty list, no message
        if st is None:
            return []
        out = []
        for obj_id in sorted(st.session.obj_ids):
            color = (
                tuple(np.asarray(self.labels_layer.get_color(obj_id)).tolist())
                if self.labels_layer
                else ()
            )
            out.append((obj_id, color, st.session.prompted_frames(obj_id)))
        return out

    @notify.reports_errors
    def delete_object(self, obj_id: int) -> None:
        """Delete an object: its labels (one undo step) and its prompts."""
        if self.is_running:
            raise ValueError("cancel the propagation before deleting objects")
        self._muted = True
        try:
            self._removed = remove_prompts(obj_id, self.points_layer, self.shapes_layer)
        finally:
            self._muted = False
        for st in self._states.values():
            if obj_id in st.session.obj_ids:
                st.session.remove_object(obj_id)
            st.forget_object(obj_id)
        if self.labels_layer is not None:
            self.editor.clear_object(obj_id)
        self.objects_changed.emit()

    @notify.reports_errors
    def undo_delete(self) -> None:
        """Bring back the last deleted object: its labels (Labels undo) and prompts."""
        removed, self._removed = self._removed, None
        if removed is None:
            raise ValueError("nothing to restore")
        self.labels_layer.undo()
        self._muted = True
        try:
            restore_prompts(removed, self.points_layer, self.shapes_layer)
        finally:
            self._muted = False
        # Prompted slices are segmented again; propagated slices came back with the undo.
        for st in self._states.values():
            st.forget_object(removed.obj_id)
        self.update_prompts()
