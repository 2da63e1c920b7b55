"""CLI errors as a user types the command: options by their CLI names, files by name,
checks before any download, aliases listed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import as_cli_words, main


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("napari-sam2: error: ") and "Traceback" not in err
    return err


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty cache and no network: any download attempt is an error naming the URL."""
    monkeypatch.setenv("NAPARI_SAM2_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NAPARI_SAM2_BASE_URL", "http://127.0.0.1:9/")


@pytest.fixture
def files(tmp_path):
    tifffile.imwrite(tmp_path / "image.tif", np.zeros((64, 64), np.uint16))
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 64, 64), np.uint16),
                     photometric="minisblack")
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps({"version": 1, "prompts": [
        {"frame": 0, "object": 1, "points": [[10, 10]]}]}))
    return tmp_path


def _segment(files, stack, *extra):
    return main(["segment", str(files / stack), "--prompts", str(files / "p.json"),
                 "--out", str(files / "o.tif"), "--no-progress", *extra])


def test_frame_axis_on_a_2d_image_is_an_error(files, offline, capsys):
    assert _segment(files, "image.tif", "--frame-axis", "0") == 1
    err = _error(capsys)
    assert "--frame-axis 0" in err and "image.tif" in err and "2-D" in err
    assert "127.0.0.1" not in err  # before any download


def test_image_size_checked_before_any_download(files, offline, capsys):
    for size in ("100", "0", "-32"):
        assert _segment(files, "stack.tif", "--image-size", size) == 1
        err = _error(capsys)
        assert f"--image-size {size}" in err and "multiple of 32" in err
        assert "download" not in err and "127.0.0.1" not in err
    assert main(["demo", "--image-size", "100", "--no-progress",
                 "--out", str(files / "demo")]) == 1
    assert "--image-size 100" in _error(capsys)


def test_api_checks_image_size_before_download(offline):
    from napari_sam2.checkpoints import load_model

    with pytest.raises(ValueError, match="multiple of 32"):
        load_model("tiny", image_size=100)  # not a download error


def test_messages_name_cli_options(files, offline, capsys):
    assert _segment(files, "stack.tif", "--channel-axis", "5") == 1
    err = _error(capsys)
    assert "--channel-axis 5" in err and "channel_axis" not in err
    assert _segment(files, "stack.tif", "--channel", "2") == 1
    err = _error(capsys)
    assert "--channel 2" in err and "--channel-axis" in err and "channel=" not in err
    assert _segment(files, "stack.tif", "--frame-axis", "3") == 1
    assert "--frame-axis 3" in _error(capsys)
    assert _segment(files, "stack.tif", "--checkpoint", str(files / "none.pt")) == 1
    assert "none.pt" in _error(capsys)
    assert _segment(files, "stack.tif") == 1  # not cached, offline: the fix names the option
    err = _error(capsys)
    assert "--checkpoint PATH" in err and "load_model(" not in err


def test_as_cli_words():
    assert as_cli_words("channel=2 given; pass channel_axis") == (
        "--channel 2 given; pass --channel-axis")
    assert as_cli_words("frame_axis 3 out of range") == "--frame-axis 3 out of range"
    assert as_cli_words("image_size must be a multiple of 32") == (
        "--image-size must be a multiple of 32")


def test_non_tiff_files_are_named(files, offline, capsys):
    (files / "fake.tif").write_text("not a tiff")
    (files / "picture.png").write_bytes(b"\x89PNG")
    assert _segment(files, "fake.tif") == 1
    assert "fake.tif" in _error(capsys)
    assert _segment(files, "picture.png") == 1
    assert "picture.png" in _error(capsys)
    out = str(files / "o.tif")
    assert main(["export", str(files / "fake.tif"), "--to", "tiff", "--out", out]) == 1
    assert "fake.tif" in _error(capsys)
    assert main(["export", str(files / "picture.png"), "--to", "tiff", "--out", out]) == 1
    assert "picture.png" in _error(capsys)


def test_models_lists_aliases(offline, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  sam2")}
    assert "tiny" in rows["sam2.1_hiera_tiny"].split()
    assert "base+," in rows["sam2.1_hiera_base_plus"].split() or "base+" in rows[
        "sam2.1_hiera_base_plus"]
    assert "--model tiny" in out
