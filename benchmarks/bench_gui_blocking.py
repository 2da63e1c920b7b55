"""How long the plugin blocks napari's GUI thread: a click, a correction, a model
load and a propagation, at the default input size (1024) on the CPU.

A QTimer ticks every ``TICK_MS`` on the event loop; the longest gap between
ticks, less one interval, is the longest time the GUI thread was busy. Each
phase is started as a user would (through the dock widget and the prompt
layers) and measured until the plugin has nothing left to do. Stand-in
weights: timings only.

    xvfb-run -a python benchmarks/bench_gui_blocking.py [--frames 4] [--size 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TICK_MS = 5


class BlockMeter:
    """Longest gap between timer ticks on the GUI thread since :meth:`reset`."""

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.reset()
        self.timer.start()

    def reset(self) -> None:
        self.last = time.perf_counter()
        self.longest = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last - TICK_MS / 1000)
        self.last = now


def run_until(done: Callable[[], bool], timeout_s: float = 1800) -> float:
    """Run the Qt event loop until ``done()``; returns the seconds it took."""
    from qtpy.QtCore import QEventLoop, QTimer

    start = time.perf_counter()
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: loop.quit() if done() else None)
    poll.start()
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    poll.stop()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="image height and width")
    parser.add_argument("--screenshot", help="save a picture of the dock here at the end")
    args = parser.parse_args()

    import napari
    from napari_sam2._napari.sample_data import make_timelapse
    from napari_sam2._widgets.main import Sam2Widget
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    weights = write_standin_checkpoint(
        "sam2.1_hiera_tiny", Path(tempfile.mkdtemp()) / "standin.pt"
    )
    viewer = napari.Viewer(show=False)
    viewer.add_image(make_timelapse(args.frames, args.size, 5), name="cells")
    widget = Sam2Widget(viewer)
    s = widget.settings
    s.checkpoint.setText(str(weights))
    s.device.setCurrentText("cpu")
    s.image_size.setCurrentText("1024")
    widget._sync_controller()
    ctrl = widget.controller
    assert ctrl.model_spec.image_size == 1024, ctrl.model_spec
    meter = BlockMeter()
    rows = []

    def phase(name: str, action: Callable[[], None]) -> None:
        run_until(lambda: not ctrl.busy, 600)  # start from rest
        meter.reset()
        t0 = time.perf_counter()
        action()
        returned = time.perf_counter() - t0
        took = returned + run_until(lambda: not ctrl.busy)
        rows.append((name, returned, meter.longest, took))
        print(f"{name:<34} returned {returned:6.3f} s  longest GUI block "
              f"{meter.longest:6.3f} s  done after {took:6.1f} s", flush=True)

    def click(frame: int, row: int, col: int) -> None:
        viewer.dims.set_current_step(0, frame)
        ctrl.points_layer.add([[frame, row, col]])

    c = args.size // 2
    # napari's own cost of making three layers (vispy visuals, numba-compiled
    # label colours on first use) is measured apart from the model load.
    def make_layers() -> None:
        ctrl.ensure_layers()
        for combo, layer in zip(
            (widget.labels, widget.points, widget.boxes),
            (ctrl.labels_layer, ctrl.points_layer, ctrl.shapes_layer),
        ):
            combo.set_layer(layer, emit=False)

    phase("napari creates the layers", make_layers)
    phase("model load (Set up layers)", widget.setup_layers)
    phase("click on a slice not yet encoded", lambda: click(1, c, c))
    phase("propagation (forward, whole stack)", widget.propagation.forward.click)
    last = args.frames - 1
    phase("correction on a propagated slice", lambda: click(last, c + c // 4, c - c // 4))
    print(f"\nlongest GUI-thread block over all phases: {max(r[2] for r in rows):.3f} s "
          f"(timer interval {TICK_MS} ms, input size 1024, CPU, stand-in weights)")
    names = [layer.name for layer in viewer.layers]
    assert len(names) == 4, names  # the image and its three layers, made once
    if args.screenshot:
        widget.resize(widget.sizeHint().width(), 900)
        widget.grab().save(args.screenshot)
    viewer.close()


if __name__ == "__main__":
    main()
