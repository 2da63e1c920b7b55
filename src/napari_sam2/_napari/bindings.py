"""Which prompt and output layers belong to which image.

Every image the plugin works on has its own Points, Shapes and Labels
layers. :class:`ImageBindings` remembers them per image layer, so that
choosing another image brings back that image's layers (or none, and new
ones are made for it) and one image's clicks never reach another image's
labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ImageBindings", "ImageLayers"]


@dataclass(frozen=True)
class ImageLayers:
    """The prompt and output layers of one image (None: not made or chosen yet)."""

    labels: Any = None
    points: Any = None
    shapes: Any = None

    def alive(self, layers) -> ImageLayers:
        """These layers, with those no longer in the viewer's ``layers`` as None."""

        def keep(layer):
            return layer if layer is not None and layer in layers else None

        return ImageLayers(keep(self.labels), keep(self.points), keep(self.shapes))

    def __contains__(self, layer) -> bool:
        mine = (self.labels, self.points, self.shapes)
        return layer is not None and any(layer is x for x in mine)


class ImageBindings:
    """``image layer -> ImageLayers`` for one viewer (keyed by identity)."""

    def __init__(self) -> None:
        self._by_image: dict[int, tuple[Any, ImageLayers]] = {}

    def bind(self, image, layers: ImageLayers) -> None:
        """Record ``layers`` as ``image``'s; a layer belongs to one image only."""
        if image is None:
            return
        for key, (other, theirs) in list(self._by_image.items()):
            if other is not image:
                kept = (None if x in layers else x for x in (theirs.labels, theirs.points,
                                                             theirs.shapes))
                self._by_image[key] = (other, ImageLayers(*kept))
        self._by_image[id(image)] = (image, layers)

    def layers_of(self, image) -> ImageLayers:
        """The layers bound to ``image`` (all None for an image not seen yet)."""
        found = self._by_image.get(id(image))
        return found[1] if found is not None and found[0] is image else ImageLayers()

    def image_of(self, layer):
        """The image ``layer`` is bound to, or None."""
        for image, layers in self._by_image.values():
            if layer in layers:
                return image
        return None
