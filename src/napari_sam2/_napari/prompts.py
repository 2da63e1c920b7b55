"""Points and Shapes layers as SAM 2 prompts.

Points carry two features: ``positive`` (bool; a negative point says "not
this") and ``obj_id`` (the Labels layer's selected label when the point was
added). Shapes carry ``obj_id``; each shape's bounding box is a box prompt.
Coordinates go layer data -> world -> Labels data, so layers with a scale
or translate line up as they do on screen; napari's (row, col) becomes the
engine's (x, y) = (col, row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_sam2._napari.layout import StackLayout
from napari_sam2.engine.prompt_file import PromptRecord

POSITIVE_COLOR, NEGATIVE_COLOR = "lime", "red"


@dataclass(frozen=True)
class FramePrompt:
    """All prompts of one object on one frame (hashable, so changes are easy to spot)."""

    points: tuple[tuple[float, float], ...] = ()  # (x, y) pixels
    labels: tuple[int, ...] = ()  # 1 positive, 0 negative
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1

    @property
    def empty(self) -> bool:
        return not self.points and self.box is None


PromptKey = tuple[int, int]  # (frame, obj_id)


def prepare_points_layer(layer, obj_id: int, positive: bool = True) -> None:
    """Give a Points layer the ``positive``/``obj_id`` features and colour by polarity."""
    features = layer.features
    n = len(layer.data)
    if "positive" not in features or "obj_id" not in features:
        layer.features = pd.DataFrame(
            {
                "positive": features["positive"].astype(bool)
                if "positive" in features
                else np.ones(n, bool),
                "obj_id": features["obj_id"].astype(int)
                if "obj_id" in features
                else np.full(n, obj_id, int),
            }
        )
    layer.face_color_cycle = {True: POSITIVE_COLOR, False: NEGATIVE_COLOR}
    layer.face_color = "positive"
    layer.feature_defaults = {"positive": positive, "obj_id": obj_id}


def prepare_shapes_layer(layer, obj_id: int) -> None:
    """Give a Shapes layer the ``obj_id`` feature; its shapes become boxes."""
    if "obj_id" not in layer.features:
        layer.features = pd.DataFrame({"obj_id": np.full(len(layer.data), obj_id, int)})
    layer.feature_defaults = {"obj_id": obj_id}
    layer.current_face_color = "transparent"


def set_current_object(obj_id: int, *layers) -> None:
    """New prompts on these layers will belong to ``obj_id``."""
    for layer in layers:
        if layer is not None and "obj_id" in layer.features:
            defaults = layer.feature_defaults.iloc[0].to_dict()
            defaults["obj_id"] = int(obj_id)
            layer.feature_defaults = defaults


def toggle_polarity(layer, obj_id: int) -> bool:
    """Flip the polarity of the *next* point (new points belong to ``obj_id``).

    The points napari selected after a click are left as they are: the key
    is about the next click, whatever slice the last one was on. Returns the
    polarity new points will get.
    """
    defaults = layer.feature_defaults.iloc[0].to_dict()
    positive = not bool(defaults["positive"])
    layer.feature_defaults = {**defaults, "positive": positive, "obj_id": int(obj_id)}
    return positive


def flip_points(layer, indices) -> None:
    """Flip positive/negative of the points at ``indices`` (the defaults stay)."""
    indices = sorted(indices)
    if not indices:
        return
    defaults = layer.feature_defaults
    feats = layer.features.copy()
    feats.loc[indices, "positive"] = ~feats.loc[indices, "positive"].astype(bool)
    layer.features = feats
    layer.feature_defaults = defaults
    layer.refresh_colors()


def _to_labels_coords(layer, coords: np.ndarray, reference) -> np.ndarray:
    """Layer data coordinates -> ``reference`` (Labels) data coordinates."""
    out = [reference.world_to_data(layer.data_to_world(c)) for c in coords]
    return np.asarray(out, dtype=float).reshape(len(out), reference.ndim)


def collect_prompts(
    points_layer, shapes_layer, reference, layout: StackLayout, default_obj: int = 1
) -> dict:
    """``{(frame, obj_id): FramePrompt}`` for every prompt on the tracked plane
    (prompts without an ``obj_id`` feature belong to ``default_obj``)."""
    found: dict[PromptKey, dict] = {}

    def entry(key):
        return found.setdefault(key, {"points": [], "labels": [], "box": None})

    if points_layer is not None and len(points_layer.data):
        coords = _to_labels_coords(points_layer, np.asarray(points_layer.data), reference)
        feats = points_layer.features
        positive = feats["positive"].to_numpy(bool) if "positive" in feats else None
        obj = feats["obj_id"].to_numpy(int) if "obj_id" in feats else None
        for i, c in enumerate(coords):
            frame = layout.frame_of(c)
            if frame is None:
                continue
            e = entry((frame, int(obj[i]) if obj is not None else default_obj))
            e["points"].append((float(c[-1]), float(c[-2])))
            e["labels"].append(int(positive[i]) if positive is not None else 1)
    if shapes_layer is not None and len(shapes_layer.data):
        obj = (
            shapes_layer.features["obj_id"].to_numpy(int)
            if "obj_id" in shapes_layer.features
            else None
        )
        for i, verts in enumerate(shapes_layer.data):
            c = _to_labels_coords(shapes_layer, np.asarray(verts), reference)
            frame = layout.frame_of(c[0])
            if frame is None:
                continue
            e = entry((frame, int(obj[i]) if obj is not None else default_obj))
            (r0, c0), (r1, c1) = c[:, -2:].min(axis=0), c[:, -2:].max(axis=0)
            e["box"] = (float(c0), float(r0), float(c1), float(r1))  # the last box wins
    return {
        key: FramePrompt(tuple(e["points"]), tuple(e["labels"]), e["box"])
        for key, e in found.items()
    }


def points_outside(points_layer, reference, layout: StackLayout) -> list[int]:
    """Indices of the points on the tracked plane that lie outside the image
    (the engine's rule: 0 <= x <= width, 0 <= y <= height, in pixels)."""
    if points_layer is None or not len(points_layer.data):
        return []
    coords = _to_labels_coords(points_layer, np.asarray(points_layer.data), reference)
    h, w = layout.spatial_shape
    rows, cols = coords[:, -2], coords[:, -1]
    bad = (rows < 0) | (rows > h) | (cols < 0) | (cols > w)
    return [int(i) for i in np.flatnonzero(bad) if layout.frame_of(coords[i]) is not None]


def to_records(prompts: dict) -> list[PromptRecord]:
    """``collect_prompts``' answer as prompts-file records, by frame then object."""
    return [
        PromptRecord(frame, obj_id, p.points, p.labels, p.box)
        for (frame, obj_id), p in sorted(prompts.items())
        if not p.empty and obj_id >= 1
    ]


def append_points(layer, coords: np.ndarray, features: pd.DataFrame) -> None:
    """Add points (layer data coordinates) with their own features, in one data event."""
    old = layer.features
    layer.data = np.concatenate([np.asarray(layer.data).reshape(-1, layer.ndim), coords])
    layer.features = pd.concat([old, features], ignore_index=True)
    layer.refresh_colors()


def place_records(
    records: list[PromptRecord], points_layer, shapes_layer, reference, layout: StackLayout
) -> None:
    """Put prompts-file records on the tracked plane: clicks as points, boxes as rectangles.

    The inverse of :func:`collect_prompts` + :func:`to_records`; ``reference``
    is the Labels layer whose data coordinates the layout describes.
    """

    def to_layer(layer, labels_coords: list) -> np.ndarray:
        world = [reference.data_to_world(c) for c in labels_coords]
        return np.asarray([layer.world_to_data(w) for w in world], dtype=float)

    coords, positive, point_objs = [], [], []
    for r in records:
        prefix = layout.labels_index(r.frame)
        coords += [(*prefix, y, x) for x, y in r.points]
        positive += [bool(lab) for lab in r.labels]
        point_objs += [r.obj_id] * len(r.points)
    if coords:
        features = pd.DataFrame({"positive": positive, "obj_id": point_objs})
        append_points(points_layer, to_layer(points_layer, coords), features)
    boxes = [r for r in records if r.box is not None]
    if boxes:
        before = len(shapes_layer.data)
        rects = []
        for r in boxes:
            prefix = layout.labels_index(r.frame)
            x0, y0, x1, y1 = r.box
            corners = [(y0, x0), (y0, x1), (y1, x1), (y1, x0)]
            rects.append(to_layer(shapes_layer, [(*prefix, y, x) for y, x in corners]))
        shapes_layer.add_rectangles(rects)
        features = shapes_layer.features.copy()
        features.loc[before:, "obj_id"] = [r.obj_id for r in boxes]
        shapes_layer.features = features
