"""The demo behind ``napari-sam2 demo``: the whole job on synthetic data.

Headless (the default): make a small time-lapse of a moving cell, click it on
frame 0, track it with :func:`~napari_sam2.engine.runner.segment_stack` and
compare every frame with the true cell. ``--gui``: napari with the plugin's
sample time-lapse and the widget docked and ready (:func:`run_gui`).
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

__all__ = ["DemoResult", "demo_stack", "gui_settings", "run_demo", "run_gui", "standin_checkpoint",
           "write_demo"]

# Where the cell is on frame 0 (x, y): the demo's one click.
CLICK = (80.0, 128.0)


def demo_stack(n: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A bright disc drifting right over a noisy background, and its true masks."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    stack = np.empty((n, size, size), np.uint16)
    truth = np.zeros((n, size, size), bool)
    for t in range(n):
        cx, cy = CLICK[0] + 8 * t, CLICK[1]
        truth[t] = (xx - cx) ** 2 + (yy - cy) ** 2 < 30**2
        stack[t] = 200 + 1800 * truth[t] + rng.integers(0, 100, (size, size))
    return stack, truth


@dataclass(frozen=True)
class DemoResult:
    """The synthetic stack, its truth, the click, the labels and the per-frame IoU."""

    stack: np.ndarray
    truth: np.ndarray
    records: list[PromptRecord]
    labels: np.ndarray
    iou: np.ndarray  # (T,) float


def run_demo(model, frames: int = 8, *, progress: Progress | None = None) -> DemoResult:
    """Click the cell on frame 0, track it forward through ``frames`` frames."""
    if frames < 1:
        raise ValueError(f"the demo needs at least 1 frame, got {frames}")
    stack, truth = demo_stack(frames)
    records = [PromptRecord(0, 1, points=(CLICK,), labels=(1,))]
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


def standin_checkpoint() -> Path:
    """Deterministic stand-in tiny weights (no download; masks are meaningless)."""
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    path = Path(tempfile.gettempdir()) / "napari_sam2_standin_tiny.pt"
    if not path.exists():
        write_standin_checkpoint("sam2.1_hiera_tiny", path)
    return path


def gui_settings(model: str, checkpoint: str | Path | None, device: str = "auto",
                 image_size: int | None = None, precision: str = "float32") -> PluginSettings:
    """The plugin's settings for the command line's model options."""
    from napari_sam2._napari.settings import PluginSettings  # GUI side, loaded only here

    return PluginSettings(preset=model, checkpoint=str(checkpoint) if checkpoint else None,
                          device=device, image_size=image_size or 1024,
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
