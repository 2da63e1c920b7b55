"""Reading a state dict: every wrong file gets one clear line; extra entries are ignored."""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import pytest
import torch

from napari_sam2 import load_model
from napari_sam2.checkpoints import CheckpointCorruptError, CheckpointNotFoundError, read_state_dict
from napari_sam2.checkpoints.standin import write_standin_checkpoint
from tests.checkpoints.bad_files import BAD_FILES, write_bad_file

PRESET = "sam2.1_hiera_tiny"


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    path = write_standin_checkpoint(PRESET, tmp_path_factory.mktemp("w") / "tiny.pt")
    return torch.load(path, weights_only=True)["model"]


def _one_line_without_torch_advice(message: str) -> None:
    assert "\n" not in message
    assert "weights_only" not in message and "file an issue" not in message


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_wrong_files_are_one_line_corrupt_errors(kind, tmp_path):
    path = write_bad_file(kind, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "file an issue" warning must not show either
        with pytest.raises(CheckpointCorruptError, match=BAD_FILES[kind][1]) as exc:
            read_state_dict(path)
    _one_line_without_torch_advice(str(exc.value))
    assert str(path) in str(exc.value)
    with pytest.raises(CheckpointCorruptError, match=BAD_FILES[kind][1]):
        load_model(PRESET, checkpoint=path)  # the same through the public entry point


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="not found.*nope.pt"):
        read_state_dict(tmp_path / "nope.pt")


def test_html_page_without_doctype_and_xml_error_page(tmp_path):
    page = tmp_path / "page.pt"
    page.write_text("\n  <HTML><body>Sign in to continue</body></HTML>")
    with pytest.raises(CheckpointCorruptError, match="HTML page"):
        read_state_dict(page)
    xml = tmp_path / "s3.pt"
    xml.write_text('<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>')
    with pytest.raises(CheckpointCorruptError, match="XML error page.*download failed"):
        read_state_dict(xml)


def test_training_extras_are_ignored(tmp_path, standin):
    """Only the tensors of the state dict count (docs/checkpoints.md)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)
    opt.step()
    files = {
        "optimizer": {"model": standin, "epoch": 3, "optimizer": opt.state_dict()},
        "bare_with_values": {**standin, "epoch": 3, "note": "fine-tuned on nuclei"},
        "values_in_wrapper": {"model": {**standin, "step": 1200, "tag": "v2"}, "epoch": 3},
        "python_objects": {
            "model": standin,
            "epoch": np.int64(3),
            "args": argparse.Namespace(lr=1e-4, data="/scratch"),
        },
    }
    key = "sam_mask_decoder.iou_token.weight"
    for name, obj in files.items():
        torch.save(obj, tmp_path / f"{name}.pt")
        state = read_state_dict(tmp_path / f"{name}.pt")
        assert state.keys() == standin.keys(), name
        model = load_model(PRESET, checkpoint=tmp_path / f"{name}.pt", image_size=256)
        assert torch.equal(model.state_dict()[key], standin[key]), name


class Marker:
    """A class whose code must never run while a checkpoint is read."""

    ran = False

    def __setstate__(self, state):
        Marker.ran = True


def test_foreign_objects_are_inert(tmp_path, standin):
    torch.save({"model": standin, "extra": Marker()}, tmp_path / "marker.pt")
    assert read_state_dict(tmp_path / "marker.pt").keys() == standin.keys()
    assert not Marker.ran


class _Shell:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_code_references_are_refused_not_run(tmp_path, standin):
    target = tmp_path / "pwned"
    torch.save({"model": standin, "x": _Shell(target)}, tmp_path / "crafted.pt")
    with pytest.raises(
        CheckpointCorruptError, match="refers to code.*system.*not a plain checkpoint"
    ) as exc:
        read_state_dict(tmp_path / "crafted.pt")
    _one_line_without_torch_advice(str(exc.value))
    assert not target.exists()


def test_no_state_dict(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(CheckpointCorruptError, match="holds a list, not a state dict"):
        read_state_dict(tmp_path / "list.pt")
