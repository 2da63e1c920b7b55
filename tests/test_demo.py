"""``napari-sam2 demo``'s engine part: the synthetic stack, one click, IoU per frame."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_sam2.demo import demo_stack, run_demo, write_demo


def test_demo_stack_follows_one_cell_present_in_every_frame():
    stack, truth, cell = demo_stack(8)
    assert stack.shape == truth.shape == (8, 256, 256) and stack.dtype == np.uint16
    assert cell > 0 and truth.any(axis=(1, 2)).all()
    # the cell is brighter than the background around it on the first frame
    assert stack[0][truth[0]].mean() > np.median(stack[0])


@pytest.mark.slow
def test_run_demo_and_write(small_model, tmp_path):
    seen = []
    result = run_demo(small_model, 2, progress=lambda d, t: seen.append((d, t)))
    assert result.labels.shape == (2, 256, 256) and result.iou.shape == (2,)
    assert ((0 <= result.iou) & (result.iou <= 1)).all() and seen[-1] == (2, 2)
    out = write_demo(tmp_path / "demo", result)
    assert np.array_equal(tifffile.imread(out / "labels.tif"), result.labels)
    assert (out / "stack.tif").exists() and (out / "prompts.json").exists()
    with pytest.raises(ValueError, match="at least 1 frame"):
        run_demo(small_model, 0)


def test_headless_modules_import_no_gui():
    """The runner, the demo and the CLI load napari only for ``demo --gui``."""
    import subprocess
    import sys

    check = ("import sys, napari_sam2.engine.runner, napari_sam2.engine.plan, napari_sam2.demo, "
             "napari_sam2.cli, napari_sam2.export; "
             "bad = [m for m in sys.modules if m.split('.')[0] in {'napari', 'qtpy', 'PyQt5', "
             "'PyQt6', 'PySide2', 'PySide6', 'vispy'}]; assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", check], check=False, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
