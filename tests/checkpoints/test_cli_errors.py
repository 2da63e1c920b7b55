"""A bad ``--checkpoint`` ends the CLI with one ``napari-sam2: error:`` line and status 1."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tifffile
import torch

from napari_sam2.checkpoints.standin import write_standin_checkpoint
from napari_sam2.cli import main
from tests.checkpoints.bad_files import BAD_FILES, write_bad_file


@pytest.fixture
def inputs(tmp_path):
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.full((2, 64, 64), 100, np.uint16), photometric="minisblack")
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"version": 1, "prompts": [
        {"frame": 0, "object": 1, "points": [[32, 32]], "labels": [1]}]}))
    return stack, prompts


def _segment(tmp_path, inputs, checkpoint, *extra):
    stack, prompts = inputs
    return main(["segment", str(stack), "--prompts", str(prompts), "--out",
                 str(tmp_path / "out.tif"), "--checkpoint", str(checkpoint), "--device", "cpu",
                 "--image-size", "256", "--no-progress", *extra])


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("napari-sam2: error: ")
    assert "Traceback" not in err and "weights_only" not in err and "file an issue" not in err
    return lines[0]


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_checkpoint_file(kind, tmp_path, inputs, capsys):
    path = write_bad_file(kind, tmp_path)
    assert _segment(tmp_path, inputs, path) == 1
    line = _one_error_line(capsys)
    assert path.name in line
    assert re.search(BAD_FILES[kind][1], line), line


def test_missing_checkpoint_and_folder_without_the_file(tmp_path, inputs, capsys):
    assert _segment(tmp_path, inputs, tmp_path / "nope.pt") == 1
    assert "checkpoint file not found" in _one_error_line(capsys)
    (tmp_path / "ckpts").mkdir()
    assert _segment(tmp_path, inputs, tmp_path / "ckpts") == 1
    assert "has no sam2.1_hiera_tiny.pt" in _one_error_line(capsys)


def test_checkpoint_of_another_size(tmp_path, inputs, capsys):
    path = write_standin_checkpoint("sam2.1_hiera_small", tmp_path / "small.pt")
    assert _segment(tmp_path, inputs, path) == 1
    line = _one_error_line(capsys)
    assert "does not fit preset 'sam2.1_hiera_tiny'" in line and "pick the preset" in line


def test_no_tensors(tmp_path, inputs, capsys):
    torch.save({"epoch": 3, "notes": "no weights here"}, tmp_path / "meta.pt")
    assert _segment(tmp_path, inputs, tmp_path / "meta.pt") == 1
    assert "holds no tensors" in _one_error_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_one_line(tmp_path, inputs, capsys):
    path = write_bad_file("empty", tmp_path)  # the device is checked before the file
    assert _segment(tmp_path, inputs, path, "--device", "cuda") == 1
    assert "device 'cuda' is not available here; choose one of auto" in _one_error_line(capsys)
