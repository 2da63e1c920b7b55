"""Key bindings on the prompt and output layers: polarity, candidates, undo."""

from __future__ import annotations

from napari_sam2._napari import notify
from napari_sam2._napari.prompts import flip_points, toggle_polarity

TOGGLE_KEY = "t"  # positive <-> negative: the next point (or, in select mode, the selected)
CYCLE_KEY = "c"  # next candidate mask of the last click
UNDO_KEY = "Control-Z"  # one user action, everywhere (prompts, session, objects, labels)


def bind_keys(controller, layer) -> None:
    """Bind ``t`` (Points only), ``c`` and Ctrl+Z on one prompt or output layer."""
    from napari.layers import Labels, Points

    def cycle(_layer=None):
        controller.cycle_candidate()

    def undo(_layer=None):
        controller.undo()

    layer.bind_key(CYCLE_KEY, cycle, overwrite=True)
    layer.bind_key(UNDO_KEY, undo, overwrite=True)
    if isinstance(layer, Labels):
        # napari records a hand-painted stroke in its own history: keep its place.
        layer.events.paint.connect(lambda _event=None: controller._painted(layer))
    if isinstance(layer, Points):

        def toggle(points=layer):
            # napari selects every new point: only points the user selected on
            # purpose (select mode) and that are on the shown slice are flipped.
            chosen = controller.shown_selection(points) if str(points.mode) == "select" else []
            if chosen:
                flip_points(points, chosen)
                notify.info(f"flipped {len(chosen)} point(s)")
                controller.update_prompts()
                return
            positive = toggle_polarity(points, controller.current_object)
            notify.info(f"new points are {'positive' if positive else 'negative'}")

        layer.bind_key(TOGGLE_KEY, toggle, overwrite=True)
