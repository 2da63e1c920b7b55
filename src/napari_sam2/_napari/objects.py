"""The object list: listing, deleting and restoring objects (labels and prompts)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_sam2._napari import notify


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
        """Delete an object: its labels and its prompts, one undo step."""
        if self.is_running:
            raise ValueError("cancel the propagation before deleting objects")
        if self.jobs.busy:
            raise ValueError("SAM 2 is still working: delete once it is done")
        from napari_sam2._napari.undo import PromptLayers

        st = self.state(create=False)
        action = None
        if st is not None and self.labels_layer is not None:
            before = PromptLayers.of(self.points_layer, self.shapes_layer)
            action = self._begin_action("object deletion", st, self.editor, prompts=before)
        self._muted = True
        try:
            remove_prompts(obj_id, self.points_layer, self.shapes_layer)
        finally:
            self._muted = False
        self._mark_synced()
        for other in self._states.values():
            if obj_id in other.session.obj_ids:
                other.session.remove_object(obj_id)
            other.forget_object(obj_id)
        if self.labels_layer is not None:
            with self.editor.record(action.changes if action is not None else []):
                self.editor.clear_object(obj_id)
        if action is not None:
            self.history.push(action)
        self.objects_changed.emit()

    @property
    def can_undo_delete(self) -> bool:
        """Whether the last user action was an object deletion."""
        return getattr(self.history.last, "name", None) == "object deletion"

    @notify.reports_errors
    def undo_delete(self) -> None:
        """Bring back the last deleted object (when deleting was the last action)."""
        if not self.can_undo_delete:
            raise ValueError("nothing to restore: the last action was not a deletion")
        self.undo()
