"""``napari-sam2 demo --gui``: napari with the sample, the widget docked and set."""

from __future__ import annotations

from napari_sam2._napari.settings import PluginSettings


def test_run_gui_docks_the_widget_with_the_settings(standin_checkpoint, qtbot):
    from napari_sam2.demo import run_gui

    settings = PluginSettings(checkpoint=str(standin_checkpoint), device="cpu", image_size=256,
                              fill_hole_area=8)
    viewer, widget = run_gui(settings, block=False)
    try:
        ctrl = widget.controller
        assert ctrl.settings == settings and widget.settings.value() == settings
        assert ctrl.labels_layer is not None and ctrl.points_layer is not None  # set up
        qtbot.waitUntil(lambda: ctrl._loading is None, timeout=120_000)
    finally:
        viewer.close()
