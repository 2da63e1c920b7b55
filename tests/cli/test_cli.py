"""The ``napari-sam2`` command: parsing, user errors, export, models; subprocess runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import napari_sam2
from napari_sam2.cli import build_parser, main

SRC = str(Path(napari_sam2.__file__).resolve().parents[1])


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["NAPARI_SAM2_CACHE_DIR"] = str(tmp_path / "cache")
    # Loopback closed port: a test never reaches the internet.
    env["NAPARI_SAM2_BASE_URL"] = "http://127.0.0.1:9/"
    return env


def run_cli(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "napari_sam2", *map(str, args)], check=False,
                          capture_output=True, text=True, env=_env(tmp_path),
                          timeout=timeout, cwd=tmp_path)


@pytest.fixture
def stack(tmp_path) -> Path:
    yy, xx = np.mgrid[:256, :256]
    frames = np.stack([((xx - 100 - 10 * t) ** 2 + (yy - 128) ** 2 < 900) * 3000 + 100
                       for t in range(3)]).astype(np.uint16)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, frames, photometric="minisblack")
    return path


@pytest.fixture
def prompts(tmp_path) -> Path:
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps({"version": 1, "prompts": [
        {"frame": 0, "object": 1, "points": [[100, 128]], "labels": [1]}]}))
    return path


@pytest.mark.parametrize("command", ["segment", "export", "models", "demo"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    assert "usage: napari-sam2 " + command in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["segment", "stack.tif"])  # --prompts and --out missing
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["segment", "s.tif", "--prompts", "p.json", "--out", "o.tif", "--direction", "up"])


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("napari-sam2: error: ") and "Traceback" not in err
    return err


def test_missing_stack(tmp_path, prompts, capsys):
    assert main(["segment", str(tmp_path / "nope.tif"), "--prompts", str(prompts),
                 "--out", str(tmp_path / "o.tif")]) == 1
    assert "nope.tif" in _error(capsys)


def test_missing_prompts(tmp_path, stack, capsys):
    assert main(["segment", str(stack), "--prompts", str(tmp_path / "p.csv"),
                 "--out", str(tmp_path / "o.tif")]) == 1
    assert "prompts file not found" in _error(capsys)


def test_prompt_outside_stack(tmp_path, stack, capsys):
    p = tmp_path / "far.csv"
    p.write_text("frame,object,kind,x,y,label,x1,y1\n5,1,point,10,10,1,,\n")
    assert main(["segment", str(stack), "--prompts", str(p), "--out", str(tmp_path / "o.tif")]) == 1
    assert "only 3 frame" in _error(capsys)
    p.write_text("frame,object,kind,x,y,label,x1,y1\n0,1,point,300,10,1,,\n")
    assert main(["segment", str(stack), "--prompts", str(p), "--out", str(tmp_path / "o.tif")]) == 1
    assert "outside the 256 x 256" in _error(capsys)


def test_wrong_dimensions(tmp_path, prompts, capsys):
    one_d = tmp_path / "line.npy"
    np.save(one_d, np.zeros(100, np.uint16))
    assert main(["segment", str(one_d), "--prompts", str(prompts),
                 "--out", str(tmp_path / "o.tif")]) == 1
    assert "spatial" in _error(capsys)


def test_unknown_model_and_bad_range(tmp_path, stack, prompts, capsys):
    base = ["segment", str(stack), "--prompts", str(prompts), "--out", str(tmp_path / "o.tif")]
    assert main(base + ["--model", "sam9_huge"]) == 1
    assert "unknown model preset" in _error(capsys)
    assert main(base + ["--start", "1"]) == 1
    assert "outside the frame range" in _error(capsys)
    assert main(base + ["--stop", "7"]) == 1
    assert "not within" in _error(capsys)


class _Prompted:
    """A session with prompts on frames 2 and 4 of 10, for planning only."""

    num_frames = 10
    obj_ids = (1,)

    def prompted_frames(self, obj_id):
        return [2, 4]


def test_cli_frame_order_is_the_engine_plan():
    """--start/--stop [start, stop) is the plan's [first, last = stop - 1]: forward
    from the first prompted frame, backward from the last, both from the first."""
    from napari_sam2.engine.plan import make_plan

    s = _Prompted()
    assert make_plan(s, "forward", 0, 9).passes == ((2, False, 7),)
    assert make_plan(s, "backward", 1, 9).passes == ((4, True, 3),)
    assert make_plan(s, "both", 0, 4).passes == ((2, False, 2), (2, True, 2))


def test_export_tiff_and_ctc(tmp_path, capsys):
    labels = np.zeros((3, 8, 8), np.uint16)
    labels[:, 1:3, 1:3] = 1
    src = tmp_path / "labels.npy"
    np.save(src, labels)
    assert main(["export", str(src), "--to", "tiff", "--out", str(tmp_path / "l.tif")]) == 0
    assert np.array_equal(tifffile.imread(tmp_path / "l.tif"), labels)
    assert main(["export", str(tmp_path / "l.tif"), "--to", "ctc", "--out",
                 str(tmp_path / "ctc")]) == 0
    assert (tmp_path / "ctc" / "res_track.txt").read_text() == "1 0 2 0\n"
    assert main(["export", str(tmp_path / "missing.tif"), "--to", "ctc", "--out", "x"]) == 1
    assert "not found" in _error(capsys)


def test_models_lists_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NAPARI_SAM2_CACHE_DIR", str(tmp_path))
    (tmp_path / "sam2.1_hiera_small.pt").write_bytes(b"x")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "sam2.1_hiera_small.pt") in out
    assert "sam2_hiera_large" in out and "not downloaded" in out


def test_models_download_offline_is_one_clear_error(tmp_path):
    proc = run_cli(tmp_path, "models", "--download", "tiny", "--no-progress", timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("napari-sam2: error: ") and "Traceback" not in proc.stderr
    assert "sam2.1_hiera_tiny.pt" in proc.stderr and "NAPARI_SAM2_CACHE_DIR" in proc.stderr


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    return write_standin_checkpoint("sam2.1_hiera_tiny", tmp_path_factory.mktemp("w") / "t.pt")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tiff", "ctc"])
def test_segment_subprocess(tmp_path, stack, prompts, standin, fmt):
    out = tmp_path / ("labels.tif" if fmt == "tiff" else "ctc")
    proc = run_cli(tmp_path, "segment", stack, "--prompts", prompts, "--out", out,
                   "--checkpoint", standin, "--image-size", "256", "--device", "cpu",
                   "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert "propagating" in proc.stderr  # the progress bar
    if fmt == "tiff":
        labels = tifffile.imread(out)
        assert labels.shape == (3, 256, 256) and labels.dtype == np.uint16
        assert set(np.unique(labels)) <= {0, 1}
    else:
        assert (out / "mask000.tif").exists() and (out / "mask002.tif").exists()
        assert (out / "res_track.txt").exists()


@pytest.mark.slow
def test_demo_subprocess_runs_offline_with_the_packaged_model(tmp_path):
    """The README's main command: no checkpoint, no network, real masks."""
    proc = run_cli(tmp_path, "demo", "--out", tmp_path / "demo", "--frames", "4",
                   "--no-progress")
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("IoU"))
    ious = [float(v) for v in line.split(":")[1].split()]
    assert len(ious) == 4 and min(ious) >= 0.8, line
    for name in ("stack.tif", "prompts.json", "labels.tif"):
        assert (tmp_path / "demo" / name).exists()


@pytest.mark.slow
def test_segment_big_output_is_memory_mapped_and_options_reach_the_session(
        tmp_path, stack, prompts, standin, monkeypatch):
    from napari_sam2.engine import runner
    from napari_sam2.engine import session as session_module

    seen = {}
    real = session_module.VideoSession

    class Recording(real):
        def __init__(self, *a, **kw):
            seen.update(kw)
            super().__init__(*a, **kw)

    monkeypatch.setattr(session_module, "VideoSession", Recording)
    monkeypatch.setattr(runner, "LABELS_IN_RAM_BYTES", 0)  # every stack counts as big
    buffers = []
    real_buffer = runner.label_buffer

    def recording_buffer(*a):
        buffers.append(real_buffer(*a))
        return buffers[-1]

    monkeypatch.setattr(runner, "label_buffer", recording_buffer)
    out = tmp_path / "out" / "labels.tif"
    assert main(["segment", str(stack), "--prompts", str(prompts), "--out", str(out),
                 "--checkpoint", str(standin), "--image-size", "256", "--device", "cpu",
                 "--no-progress", "--fill-holes", "8", "--non-overlap"]) == 0
    assert seen["fill_hole_area"] == 8 and seen["non_overlap"] is True
    assert isinstance(buffers[0], np.memmap) and buffers[0].dtype == np.uint16
    labels = tifffile.imread(out)
    assert labels.shape == (3, 256, 256) and labels.dtype == np.uint16
    assert sorted(p.name for p in out.parent.iterdir()) == ["labels.tif"]  # no temp files left
    assert main(["segment", str(stack), "--prompts", str(prompts), "--out", str(out),
                 "--fill-holes", "-1", "--checkpoint", str(standin)]) == 1


def test_bfloat16_on_a_cpu_without_bfloat16_units_is_a_user_error(
    tmp_path, stack, prompts, capsys, monkeypatch
):
    from napari_sam2.checkpoints import loading

    monkeypatch.setattr(loading, "cpu_supports_bfloat16", lambda: False)
    assert main(["segment", str(stack), "--prompts", str(prompts), "--out", str(tmp_path / "o.tif"),
                 "--device", "cpu", "--precision", "bfloat16"]) == 1
    assert "bfloat16' needs a CUDA GPU or a CPU with bfloat16 units" in _error(capsys)
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.slow
def test_long_stack_options_reach_the_session(
    tmp_path, stack, prompts, standin, monkeypatch, capsys
):
    from napari_sam2.engine import session as session_module
    from napari_sam2.engine.memory_tree import MemoryTree

    seen = {}
    real = session_module.VideoSession

    class Recording(real):
        def __init__(self, *a, **kw):
            seen.update(kw)
            super().__init__(*a, **kw)

    monkeypatch.setattr(session_module, "VideoSession", Recording)
    out = tmp_path / "labels.tif"
    base = ["segment", str(stack), "--prompts", str(prompts), "--out", str(out),
            "--checkpoint", str(standin), "--image-size", "256", "--device", "cpu", "--no-progress"]
    assert main([*base, "--long-stack", "--pathways", "2", "--iou-threshold", "0.3",
                 "--weight-range", "0.9", "1.1"]) == 0
    assert seen["memory_tree"] == MemoryTree(pathways=2, iou_threshold=0.3, weight_range=(0.9, 1.1))
    assert main([*base, "--long-stack", "--no-object-aware-memory"]) == 0
    assert seen["memory_tree"] == MemoryTree(object_aware=False)
    assert tifffile.imread(out).shape == (3, 256, 256)
    assert main([*base, "--long-stack", "--pathways", "0"]) == 1
    err = _error(capsys)
    assert "--pathways" in err and "pathways must be an integer >= 1" in err
