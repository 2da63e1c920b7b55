"""Key bindings on the prompt layers: polarity toggle and candidate cycling."""

from __future__ import annotations

from napari_sam2._napari import notify
from napari_sam2._napari.prompts import toggle_polarity

TOGGLE_KEY = "t"  # positive <-> negative point
CYCLE_KEY = "c"  # next candidate mask of the last click


def bind_keys(controller, layer) -> None:
    """Bind ``t`` (Points only) and ``c`` on one prompt or output layer."""
    from napari.layers import Points

    def cycle(_layer=None):
        controller.cycle_candidate()

    layer.bind_key(CYCLE_KEY, cycle, overwrite=True)
    if isinstance(layer, Points):

        def toggle(points=layer):
            positive = toggle_polarity(points)
            notify.info(f"new points are {'positive' if positive else 'negative'}")
            if points.selected_data:  # flipped existing points: segment again
                controller.update_prompts()

        layer.bind_key(TOGGLE_KEY, toggle, overwrite=True)
