"""Which layers and axes the plugin works on, and creating the missing layers.

:class:`LayerBinding` is the controller's view of the viewer: the image,
prompt and output layers, the frame/channel choice, and conversions from
the viewer's position to a :class:`StackLayout` and a frame index.
"""

from __future__ import annotations

import numpy as np

from napari_sam2._napari.bindings import ImageBindings, ImageLayers
from napari_sam2._napari.layout import StackLayout, check_dtype


class LayerBinding:
    """The layers and axis choices of one viewer (no Qt widgets here)."""

    def __init__(self, viewer) -> None:
        self.viewer = viewer
        self.image_layer = self.points_layer = self.shapes_layer = self.labels_layer = None
        self.frame_axis: int | None = 0
        self.channel_axis: int | None = None
        self.channel: int | None = None
        self.bindings = ImageBindings()

    # -- one set of layers per image -------------------------------------------
    @property
    def image_layers(self) -> ImageLayers:
        """The current image's prompt and output layers."""
        return ImageLayers(self.labels_layer, self.points_layer, self.shapes_layer)

    def remember_layers(self) -> None:
        """Bind the current prompt/output layers to the current image."""
        self.bindings.bind(self.image_layer, self.image_layers)

    def switch_image(self, image) -> ImageLayers:
        """Make ``image`` current with its own layers (None where it has none yet);
        the layers of the image left are remembered for when it comes back."""
        if image is self.image_layer:
            return self.image_layers
        self.remember_layers()
        self.image_layer = image
        mine = self.bindings.layers_of(image).alive(self.viewer.layers)
        self.labels_layer, self.points_layer, self.shapes_layer = (
            mine.labels, mine.points, mine.shapes
        )
        return mine

    # -- configuration ---------------------------------------------------------
    def base_layout(self) -> StackLayout:
        """The image layer's axes, without a position (``ValueError`` if unusable)."""
        image = self.image_layer
        if image is None or image not in self.viewer.layers:
            raise ValueError("choose an image layer first")
        data = image.data[0] if image.multiscale else image.data
        check_dtype(data.dtype)
        return StackLayout(tuple(data.shape), bool(image.rgb), self.channel_axis)

    def layout(self) -> StackLayout:
        """The current layout: other axes pinned where the viewer is now."""
        base = self.base_layout()
        frame_axis = self.frame_axis if base.nonspatial_axes() else None
        if frame_axis is not None and frame_axis not in base.nonspatial_axes():
            raise ValueError(f"axis {frame_axis} cannot be the frame axis of {base.shape}")
        return base.with_position(self._position(base), frame_axis)

    def _position(self, base: StackLayout) -> tuple[int, ...]:
        """The viewer's position in Labels data coordinates (ints)."""
        ref = self.labels_layer if self._labels_ok(base) else self.image_layer
        point = ref.world_to_data(self.viewer.dims.point)
        if ref is self.image_layer and base.channel_axis is not None:
            point = np.delete(point, base.channel_axis)
        return tuple(round(float(p)) for p in point)

    def _labels_ok(self, base: StackLayout) -> bool:
        layer = self.labels_layer
        return (
            layer is not None
            and layer in self.viewer.layers
            and layer.data.shape == base.labels_shape
        )

    def ensure_layers(self) -> None:
        """Create the output Labels layer (and prompt layers) if absent; check shapes."""
        base = self.base_layout()
        image = self.image_layer
        keep = [a for a in range(image.ndim) if a != base.channel_axis]
        geometry = {
            "scale": np.asarray(image.scale)[keep],
            "translate": np.asarray(image.translate)[keep],
        }
        if self.labels_layer is None or self.labels_layer not in self.viewer.layers:
            data = np.zeros(base.labels_shape, dtype=np.uint32)
            self.labels_layer = self.viewer.add_labels(data, name=f"{image.name} masks", **geometry)
            self.labels_layer.selected_label = 1
        elif self.labels_layer.data.shape != base.labels_shape:
            raise ValueError(
                f"Labels layer '{self.labels_layer.name}' has shape "
                f"{self.labels_layer.data.shape}, "
                f"but the image '{image.name}' needs {base.labels_shape}: choose another "
                "Labels layer or none (one will be created)"
            )
        ndim = len(base.labels_shape)
        if self.points_layer is None or self.points_layer not in self.viewer.layers:
            self.points_layer = self.viewer.add_points(
                np.empty((0, ndim)),
                ndim=ndim,
                name=f"{image.name} points",
                size=max(3, base.spatial_shape[0] // 40),
                **geometry,
            )
        if self.shapes_layer is None or self.shapes_layer not in self.viewer.layers:
            self.shapes_layer = self.viewer.add_shapes(
                ndim=ndim,
                name=f"{image.name} boxes",
                edge_color="yellow",
                face_color="transparent",
                **geometry,
            )
        self.remember_layers()
        self._layers_ready()

    def _layers_ready(self) -> None:
        """Called once the prompt and output layers exist (a hook for subclasses)."""

    @property
    def current_object(self) -> int:
        """The Labels layer's selected label: the object new prompts belong to."""
        return int(self.labels_layer.selected_label) if self.labels_layer is not None else 1

    def new_object_id(self) -> int:
        """A label id used neither in the Labels layer nor by any prompt."""
        used = (
            set(np.unique(np.asarray(self.labels_layer.data)).tolist())
            if self.labels_layer
            else set()
        )
        for layer in (self.points_layer, self.shapes_layer):
            if layer is not None and "obj_id" in layer.features:
                used |= set(layer.features["obj_id"].tolist())
        return max(used | {0}) + 1

    def current_frame(self) -> int:
        """The frame the viewer shows now."""
        layout = self.layout()
        if layout.frame_axis is None:
            return 0
        return self._position(layout)[layout.to_labels_axis(layout.frame_axis)]
