"""``napari-sam2 train``: one-line errors for bad input; a tiny run on a TIFF pair."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from tests.training.standin import disc_stack

from napari_sam2.cli import main
from napari_sam2.training.command import RECIPES


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_is_a_valid_config(name):
    cfg = RECIPES[name](seed=1234)
    assert cfg.seed == 1234 and cfg.steps >= 500 and 0 < cfg.lr <= 1e-3
    assert (cfg.model == "demo") == name.startswith("demo")
    assert cfg.freeze_image_encoder == (name == "finetune")


def test_no_data_is_an_error(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run")]) == 1
    assert "no training data" in _err(capsys)


def test_missing_file_is_named(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--out",
                str(tmp_path / "run"),
                "--pair",
                str(tmp_path / "a.tif"),
                str(tmp_path / "b.tif"),
            ]
        )
        == 1
    )
    assert "a.tif" in _err(capsys)


def test_mismatched_shapes_are_named(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "img.tif", np.zeros((3, 32, 32), np.uint8))
    tifffile.imwrite(tmp_path / "lab.tif", np.zeros((3, 32, 30), np.uint16))
    assert (
        main(
            [
                "train",
                "--out",
                str(tmp_path / "run"),
                "--pair",
                str(tmp_path / "img.tif"),
                str(tmp_path / "lab.tif"),
            ]
        )
        == 1
    )
    msg = _err(capsys)
    assert "(3, 32, 32)" in msg and "(3, 32, 30)" in msg


def test_missing_checkpoint_and_ctc_folder(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run"), "--ctc", str(tmp_path / "nope")]) == 1
    assert "nope" in _err(capsys)
    tifffile.imwrite(tmp_path / "img.tif", np.zeros((3, 32, 32), np.uint8))
    assert (
        main(
            [
                "train",
                "--out",
                str(tmp_path / "run"),
                "--pair",
                str(tmp_path / "img.tif"),
                str(tmp_path / "img.tif"),
                "--checkpoint",
                str(tmp_path / "w.pt"),
            ]
        )
        == 1
    )
    assert "w.pt" in _err(capsys)


def test_tiny_run_on_a_tiff_pair_writes_checkpoints(tmp_path):
    st = disc_stack(0, frames=4, size=64)
    tifffile.imwrite(tmp_path / "img.tif", st.image)
    tifffile.imwrite(tmp_path / "lab.tif", st.labels)
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--pair",
            str(tmp_path / "img.tif"),
            str(tmp_path / "lab.tif"),
            "--out",
            str(out),
            "--steps",
            "2",
            "--image-size",
            "64",
            "--threads",
            "1",
            "--no-progress",
            "--export",
            str(tmp_path / "m.pt"),
        ]
    )
    assert rc == 0
    assert (
        (out / "last.pt").is_file()
        and (out / "final.pt").is_file()
        and (tmp_path / "m.pt").is_file()
    )
    assert (out / "run.json").read_text().count("\n") == 1
