"""``napari-sam2 segment-all``: a label image of one frame; user errors as one line."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.engine.synthetic import StackSpec, make_stack


@pytest.fixture
def stack_file(tmp_path):
    path = tmp_path / "stack.npy"
    np.save(path, make_stack(StackSpec(frames=2, size=(96, 128), cells=(3, 5)), seed=3).image)
    return path


def test_segment_all_writes_a_label_image(stack_file, standin_checkpoint, tmp_path, capsys):
    out = tmp_path / "labels.tif"
    status = main(["segment-all", str(stack_file), "--frame", "1", "--out", str(out),
                   "--checkpoint", str(standin_checkpoint), "--image-size", "256",
                   "--device", "cpu", "--points-per-side", "4", "--pred-iou-thresh", "0.3",
                   "--stability-score-thresh", "0.3", "--no-progress"])
    assert status == 0, capsys.readouterr().err
    labels = tifffile.imread(out)
    assert labels.shape == (96, 128) and labels.dtype == np.uint16
    n = int(labels.max())
    assert n >= 1 and np.unique(labels[labels > 0]).tolist() == list(range(1, n + 1))
    assert f"found {n} objects on frame 1" in capsys.readouterr().out


@pytest.mark.parametrize("extra, expect", [
    (["--frame", "5"], "frame 5 out of range"),
    (["--pred-iou-thresh", "2"], "--pred-iou-thresh must be a number in [0, 1]"),
    (["--points-per-side", "0"], "--points-per-side must be an integer >= 1"),
    (["--out", "labels.png"], "--out must be a .tif file"),
    (["--model", "nope"], "nope"),
])
def test_user_errors_are_one_line(stack_file, tmp_path, capsys, extra, expect):
    args = ["segment-all", str(stack_file), "--out", str(tmp_path / "l.tif"), *extra]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("napari-sam2: error: ") and expect in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_image(tmp_path, capsys):
    assert main(["segment-all", str(tmp_path / "none.tif"), "--out", str(tmp_path / "l.tif")]) == 1
    assert "image not found" in capsys.readouterr().err


def test_help(capsys):
    from napari_sam2.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["segment-all", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: napari-sam2 segment-all" in out and "--points-per-side" in out
