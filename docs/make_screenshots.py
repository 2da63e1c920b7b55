"""Screenshots of the real widget in a real napari window, for docs/user-guide.md.

Run under a virtual display (no GPU, no real checkpoint needed):

    xvfb-run -a -s "-screen 0 1600x1100x24" python docs/make_screenshots.py [--checkpoint sam2.1_hiera_tiny.pt]

Without ``--checkpoint`` it uses stand-in weights: the widget, layers and
flow are real, but the masks are not real cell outlines (the captions say so).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "src"))  # a source checkout works without pip install


def _register_plugin() -> None:
    from npe2 import PluginManager, PluginManifest

    import napari_sam2

    pm = PluginManager.instance()
    if "napari-sam2" not in pm:
        pm.register(PluginManifest.from_file(Path(napari_sam2.__file__).parent / "napari.yaml"))


def _save(viewer, name: str) -> None:
    from PIL import Image

    img = viewer.screenshot(canvas_only=False, flash=False)
    Image.fromarray(img).save(HERE / "images" / name)
    print("wrote", HERE / "images" / name)


def _wait(app, cond, timeout=600.0) -> None:
    import time

    t0 = time.time()
    while not cond() and time.time() - t0 < timeout:
        app.processEvents()
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=None)
    args = parser.parse_args()
    _register_plugin()
    from qtpy.QtWidgets import QApplication

    import napari

    checkpoint = args.checkpoint
    if checkpoint is None:
        from napari_sam2.checkpoints.standin import write_standin_checkpoint

        checkpoint = str(
            write_standin_checkpoint(
                "sam2.1_hiera_tiny", Path(tempfile.gettempdir()) / "napari_sam2_standin_tiny.pt"
            )
        )
    (HERE / "images").mkdir(exist_ok=True)

    viewer = napari.Viewer(title="napari-sam2")
    viewer.window.resize(1560, 1040)
    viewer.open_sample("napari-sam2", "cells_timelapse")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "Segment Anything 2")
    widget.settings.checkpoint.setText(checkpoint)
    widget.settings.device.setCurrentText("cpu")
    if args.checkpoint is None:  # stand-in weights: keep it quick
        widget.settings.advanced.setChecked(True)
        widget.settings.image_size.setCurrentText("256")
    widget.setup_layers()
    app = QApplication.instance()
    app.processEvents()
    viewer.reset_view()
    _save(viewer, "widget_setup.png")

    ctrl = widget.controller
    _wait(app, lambda: ctrl._loading is None)  # setup_layers loads the model in the background
    viewer.dims.set_current_step(0, 0)
    image = viewer.layers["cells (2D+t)"].data
    import numpy as np

    row, col = np.unravel_index(np.argmax(image[0]), image[0].shape)
    ctrl.points_layer.add([[0, row, col]])
    app.processEvents()
    _save(viewer, "after_click.png")

    widget.propagation.forward.click()
    _wait(app, lambda: not ctrl.is_running)
    viewer.dims.set_current_step(0, 12)
    app.processEvents()
    _save(viewer, "after_propagation.png")
    _save_timeline(app, viewer, widget)
    viewer.close()


def _save_timeline(app, viewer, widget) -> None:
    """The dock scrolled to Propagate, Objects and the confidence timeline (whole
    window), and the dock's whole content on its own."""
    widget.timeline.refresh()
    widget.scroll.ensureWidgetVisible(widget.timeline, 0, 0)
    for _ in range(10):
        app.processEvents()
    _save(viewer, "confidence_timeline.png")
    content = widget.scroll.widget()
    path = HERE / "images" / "dock_confidence_timeline.png"
    content.grab().save(str(path))
    print("wrote", path)


if __name__ == "__main__":
    main()
