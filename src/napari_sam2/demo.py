"""The demo behind ``napari-sam2 demo``: the whole job on synthetic data.

Headless (the default): take the plugin's sample time-lapse (synthetic cells,
a seed never used in training), click one cell on frame 0, track it with
:func:`~napari_sam2.engine.runner.segment_stack` and compare every frame with
the true cell. ``--gui``: napari with the plugin's sample time-lapse and the
widget docked and ready (:func:`run_gui`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from napari_sam2.engine.prompt_file import PromptRecord
from napari_sam2.engine.runner import Progress, SegmentOptions, segment_stack

if TYPE_CHECKING:  # pragma: no cover
    from napari_sam2._napari.settings import PluginSettings

__all__ = ["STANDIN_MODEL", "DemoResult", "demo_stack", "gui_settings", "run_demo", "run_gui",
           "standin_checkpoint", "write_demo"]

def demo_stack(n: int, size: int = 256) -> tuple[np.ndarray, np.ndarray, int]:
    """The plugin's sample time-lapse (generator seed 0, never used in training),
    the true masks of the cell the demo follows, and that cell's id.

    The followed cell is the largest one on frame 0 that stays in the field for
    all ``n`` frames and does not divide, so its truth is one mask per frame.
    """
    from napari_sam2.engine.synthetic import make_stack
    from napari_sam2.engine.synthetic.spec import StackSpec

    stack = make_stack(
        StackSpec(frames=n, size=(size, size), cells=(5, 5), radius=(size / 16, size / 10),
                  noise=0.08),
        seed=0,
    )
    mothers = set(stack.parents.values())
    ids, areas = np.unique(stack.labels[0], return_counts=True)
    order = [int(i) for i, _ in sorted(zip(ids, areas), key=lambda p: -p[1]) if i]
    present = [(stack.labels == i).any(axis=(1, 2)).all() for i in order]
    stays = [i for i, p in zip(order, present) if p and i not in mothers]
    cell = (stays or order)[0]
    return stack.image, stack.labels == cell, cell


@dataclass(frozen=True)
class DemoResult:
    """The synthetic stack, its truth, the click, the labels and the per-frame IoU."""

    stack: np.ndarray
    truth: np.ndarray
    records: list[PromptRecord]
    labels: np.ndarray
    iou: np.ndarray  # (T,) float


def run_demo(model, frames: int = 8, *, progress: Progress | None = None) -> DemoResult:
    """Click one cell on frame 0 of the sample time-lapse, track it through ``frames``
    frames and compare every frame with the true cell."""
    from napari_sam2.engine.synthetic import click_point

    if frames < 1:
        raise ValueError(f"the demo needs at least 1 frame, got {frames}")
    stack, truth, _cell = demo_stack(frames)
    x, y = click_point(truth[0].astype(np.uint8), 1)
    records = [PromptRecord(0, 1, points=((float(x), float(y)),), labels=(1,))]
    labels = segment_stack(model, stack, records, SegmentOptions(), progress=progress)
    inter = np.logical_and(labels == 1, truth).sum(axis=(1, 2))
    union = np.logical_or(labels == 1, truth).sum(axis=(1, 2))
    return DemoResult(stack, truth, records, labels, inter / np.maximum(union, 1))


def write_demo(out: str | Path, result: DemoResult) -> Path:
    """Write ``stack.tif``, ``prompts.json`` and ``labels.tif`` into ``out``."""
    import tifffile

    from napari_sam2.engine.prompt_file import write_prompts
    from napari_sam2.export import write_label_stack

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(out / "stack.tif", result.stack, photometric="minisblack")
    write_prompts(out / "prompts.json", result.records)
    write_label_stack(out / "labels.tif", result.labels)
    return out


#: The preset whose stand-in weights ``--standin`` uses.
STANDIN_MODEL = "sam2.1_hiera_tiny"


def standin_checkpoint() -> Path:
    """Deterministic stand-in tiny weights (no download; masks are meaningless)."""
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    path = Path(tempfile.gettempdir()) / "napari_sam2_standin_tiny.pt"
    if not path.exists():
        write_standin_checkpoint(STANDIN_MODEL, path)
    return path


def gui_settings(model: str, checkpoint: str | Path | None, device: str = "auto",
                 image_size: int | None = None, precision: str = "float32") -> PluginSettings:
    """The plugin's settings for the command line's model options."""
    from napari_sam2._napari.settings import PluginSettings  # GUI side, loaded only here

    return PluginSettings(preset=model, checkpoint=str(checkpoint) if checkpoint else None,
                          device=device, image_size=image_size,
                          bfloat16=precision == "bfloat16")


def run_gui(settings: PluginSettings | None = None, *, block: bool = True):
    """Open napari with the sample time-lapse and the widget docked, set up with
    ``settings``; returns the viewer and the widget (``block=False``: without
    entering napari's event loop, for scripts and tests)."""
    import napari  # only here: the headless demo needs no GUI

    viewer = napari.Viewer(title="napari-sam2 demo")
    viewer.open_sample("napari-sam2", "cells_timelapse")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "Segment Anything 2")
    if settings is not None:
        widget.settings.show_settings(settings)
    widget.setup_layers()
    if block:
        napari.run()
    return viewer, widget
