"""Removing and restoring all prompts of one object (for delete / undo delete)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    import pandas as pd

    if removed.points is not None and points_layer is not None:
        old = points_layer.features
        points_layer.data = np.concatenate([np.asarray(points_layer.data), removed.points])
        points_layer.features = pd.concat([old, removed.point_features], ignore_index=True)
        points_layer.refresh_colors()
    if removed.shapes and shapes_layer is not None:
        defaults = shapes_layer.feature_defaults.iloc[0].to_dict()
        shapes_layer.feature_defaults = {**defaults, "obj_id": removed.obj_id}
        shapes_layer.add(removed.shapes, shape_type=removed.shape_types)
        shapes_layer.feature_defaults = defaults
