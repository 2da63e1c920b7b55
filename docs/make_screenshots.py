"""Screenshots of the real widget in a real napari window, for docs/user-guide.md.

Run under a virtual display (no GPU, no real checkpoint needed):

    xvfb-run -a -s "-screen 0 1600x1100x24" python docs/make_screenshots.py [--checkpoint FILE]

Without ``--checkpoint`` it uses the packaged demo model (trained on synthetic
cells: real masks on the synthetic sample, offline); ``--standin`` uses
stand-in weights (the flow only, no real masks).
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
    parser.add_argument("--checkpoint", default=None,
                        help="an official checkpoint file (default: the packaged demo model)")
    parser.add_argument("--standin", action="store_true",
                        help="stand-in weights: the flow without real masks")
    args = parser.parse_args()
    _register_plugin()
    from qtpy.QtWidgets import QApplication

    import napari

    checkpoint = args.checkpoint
    if args.standin:
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
    settings = widget.settings
    if checkpoint is None:  # the packaged demo model: real masks, offline
        settings.preset.setCurrentIndex(settings.preset.findData("demo"))
    else:
        settings.checkpoint.setText(checkpoint)
    settings.device.setCurrentText("cpu")
    if args.standin:  # stand-in weights: keep it quick
        settings.advanced.setChecked(True)
        settings.image_size.setCurrentText("256")
    widget.setup_layers()
    app = QApplication.instance()
    app.processEvents()
    viewer.reset_view()
    _save(viewer, "widget_setup.png")

    ctrl = widget.controller
    _wait(app, lambda: ctrl._loading is None)  # setup_layers loads the model in the background
    viewer.dims.set_current_step(0, 0)
    import numpy as np

    from napari_sam2._napari.sample_data import timelapse_stack
    from napari_sam2.engine.synthetic import click_point

    truth = timelapse_stack().labels[0]  # the sample's ground truth: click inside a cell
    ids, counts = np.unique(truth, return_counts=True)
    col, row = click_point(truth, int(ids[1:][np.argmax(counts[1:])]))
    ctrl.points_layer.add([[0, row, col]])
    _wait(app, lambda: not ctrl.busy)  # the mask comes from a worker
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
