"""The main job in one command.

    python -m napari_sam2._napari.demo            # napari + sample data + the widget
    python -m napari_sam2._napari.demo --headless # the same flow without a window

Headless, it segments the synthetic time-lapse from one click and
propagates through time, writing ``demo_masks.tif``. ``--standin`` uses
deterministic stand-in weights (no download; masks are meaningless) to
check that everything runs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def _standin_checkpoint() -> str:
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    path = Path(tempfile.gettempdir()) / "napari_sam2_standin_tiny.pt"
    if not path.exists():
        write_standin_checkpoint("sam2.1_hiera_tiny", path)
    return str(path)


def run_gui(checkpoint: str | None = None) -> None:
    """Open napari with the sample time-lapse, the widget docked and ready."""
    import napari

    viewer = napari.Viewer(title="napari-sam2 demo")
    viewer.open_sample("napari-sam2", "cells_timelapse")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "Segment Anything 2")
    if checkpoint:
        widget.settings.checkpoint.setText(checkpoint)
    widget.setup_layers()
    napari.run()


def run_headless(checkpoint: str | None, device: str, image_size: int, out: str) -> None:
    """Click on a cell on frame 0, propagate forward, save the labels."""
    import numpy as np
    from napari.components import ViewerModel

    from napari_sam2._napari.console import segment_layers
    from napari_sam2._napari.sample_data import make_timelapse
    from napari_sam2._napari.writer import write_labels

    viewer = ViewerModel()
    data = make_timelapse()
    viewer.add_image(data, name="cells")
    # The brightest pixel of frame 0 is inside a nucleus: a good first click.
    row, col = np.unravel_index(np.argmax(data[0]), data[0].shape)
    viewer.add_points([[0, row, col]], ndim=3, name="prompts")
    segment_layers(
        viewer,
        "cells",
        points="prompts",
        checkpoint=checkpoint,
        device=device,
        image_size=image_size,
        propagate="forward",
    )
    labels = viewer.layers["cells masks"].data
    print("pixels per frame:", (labels > 0).sum(axis=(1, 2)).tolist())
    print("written:", write_labels(out, labels, {})[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--headless", action="store_true", help="no window: script the same flow")
    parser.add_argument("--standin", action="store_true", help="stand-in weights (no download)")
    parser.add_argument(
        "--checkpoint", default=None, help="a SAM 2 .pt file (default: weights cache)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--out", default="demo_masks.tif")
    args = parser.parse_args(argv)
    checkpoint = _standin_checkpoint() if args.standin else args.checkpoint
    if args.headless:
        run_headless(checkpoint, args.device, args.image_size, args.out)
    else:
        run_gui(checkpoint)


if __name__ == "__main__":
    main()
