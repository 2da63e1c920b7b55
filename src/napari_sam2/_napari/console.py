"""Scripting from the napari console: the widget's flow in one call.

>>> import napari_sam2
>>> ctrl = napari_sam2.segment_layers(viewer, image="cells (2D+t)", points="prompts",
...                                   propagate="both")
"""

from __future__ import annotations

from napari_sam2._napari.controller import Sam2Controller
from napari_sam2._napari.settings import PluginSettings


def _layer(viewer, name):
    if name is None or not isinstance(name, str):
        return name
    if name not in viewer.layers:
        raise ValueError(
            f"no layer named {name!r}; layers: {[layer.name for layer in viewer.layers]}"
        )
    return viewer.layers[name]


def segment_layers(
    viewer,
    image,
    points=None,
    boxes=None,
    labels=None,
    *,
    frame_axis: int | None = 0,
    channel_axis: int | None = None,
    channel: int | None = None,
    model: str = "sam2.1_hiera_tiny",
    checkpoint: str | None = None,
    device: str = "auto",
    image_size: int | None = None,
    propagate: str | None = "forward",
    overwrite: bool = False,
    fill_hole_area: int = 0,
    non_overlap: bool = False,
    threaded: bool = False,
) -> Sam2Controller:
    """Segment (and propagate) the prompts of named layers into a Labels layer.

    ``image``, ``points``, ``boxes`` and ``labels`` are layer names (or
    layers). Points need ``obj_id``/``positive`` features to name several
    objects; without them every point is a positive click on object 1.
    ``labels`` None creates "<image> masks". ``propagate``: "forward",
    "backward", "both" or None. Runs in the calling thread by default, so the
    result is there when the call returns; returns the controller, whose
    ``session`` is the plain ``VideoSession`` for further calls.
    ``fill_hole_area`` and ``non_overlap`` post-process the masks as in
    ``VideoSession``.
    """
    ctrl = Sam2Controller(viewer)
    ctrl.image_layer = _layer(viewer, image)
    ctrl.points_layer = _layer(viewer, points)
    ctrl.shapes_layer = _layer(viewer, boxes)
    ctrl.labels_layer = _layer(viewer, labels)
    ctrl.frame_axis, ctrl.channel_axis, ctrl.channel = frame_axis, channel_axis, channel
    ctrl.apply_settings(PluginSettings(
        preset=model, checkpoint=checkpoint, device=device, image_size=image_size,
        overwrite=overwrite, fill_hole_area=fill_hole_area, non_overlap=non_overlap))
    ctrl.threaded = threaded
    ctrl.ensure_layers()
    ctrl.update_prompts()
    if propagate:
        ctrl.propagate(propagate)
    return ctrl
