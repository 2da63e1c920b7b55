"""``napari-sam2 batch`` on a real dask LocalCluster: two worker processes on
127.0.0.1, stand-in weights, 64 x 64 stacks of 3 frames at model size 64.

One cluster (the one ``run`` starts by default, from its own code) serves
the whole module; the tests that use it run in order and share its outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_sam2.batch.driver import ClusterSettings, _connect, run
from napari_sam2.batch.jobs import expand_stacks, make_jobs, read_seeds, stem_of
from napari_sam2.batch.options import ModelSettings, StackSettings
from napari_sam2.batch.report import (
    REPORT_NAME,
    StackEntry,
    is_complete,
    read_entries,
    remove_partials,
    write_atomically,
)
from napari_sam2.cli import main
from napari_sam2.export import write_ctc, write_label_stack

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::ResourceWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning")

SIZE = ["--image-size", "64", "--device", "cpu"]
FRAMES = 3
GOOD = ("cells_a", "cells_b", "cells_c")


def _frames(shift: int) -> np.ndarray:
    yy, xx = np.mgrid[:64, :64]
    return np.stack([((xx - 20 - 3 * t - shift) ** 2 + (yy - 32) ** 2 < 100) * 3000 + 100
                     for t in range(FRAMES)]).astype(np.uint16)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Three good stacks and one corrupt, each with a prompts file."""
    root = tmp_path_factory.mktemp("batch")
    (root / "stacks").mkdir()
    (root / "prompts").mkdir()
    for i, stem in enumerate(GOOD):
        tifffile.imwrite(root / "stacks" / f"{stem}.tif", _frames(2 * i), photometric="minisblack")
    (root / "stacks" / "broken.tif").write_bytes(b"II*\x00 truncated, not a TIFF")
    for stem in (*GOOD, "broken"):
        (root / "prompts" / f"{stem}.json").write_text(json.dumps(
            {"version": 1, "prompts": [{"frame": 0, "object": 1, "points": [[22, 32]]}]}))
    return root


@pytest.fixture(scope="module")
def model(standin_checkpoint) -> ModelSettings:
    return ModelSettings(checkpoint=str(standin_checkpoint), device="cpu", image_size=64)


@pytest.fixture(scope="module")
def scheduler(model):
    """The address of a LocalCluster of two worker processes, started as ``run`` starts one."""
    settings = ClusterSettings(workers=2, torch_threads=1, dashboard_address=":0")
    with _connect(settings, model) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        yield client.scheduler.address


def _cli_model(standin_checkpoint) -> list[str]:
    return ["--checkpoint", str(standin_checkpoint), *SIZE, "--no-progress"]


def test_batch_matches_segment_and_reports_the_corrupt_stack(data, scheduler, model,
                                                             standin_checkpoint, capsys,
                                                             monkeypatch):
    import napari_sam2.cli as cli

    # `segment` as the user runs it, with its model loaded once for the three stacks.
    loaded = model.load()
    monkeypatch.setattr(cli, "_load_model", lambda args: loaded)
    out = data / "out"
    status = main(["batch", str(data / "stacks" / "*.tif"), "--out", str(out),
                   "--prompts-dir", str(data / "prompts"), "--scheduler", scheduler,
                   "--torch-threads", "1", *_cli_model(standin_checkpoint)])
    captured = capsys.readouterr()
    assert status == 1
    assert "Traceback" not in captured.err
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("napari-sam2: error: 3 of 4 stacks done") and "failed: broken" in last
    assert "dashboard: http" in captured.err
    assert "frame" not in captured.err  # --no-progress: no bar

    report = json.loads((out / REPORT_NAME).read_text())["stacks"]
    assert list(report) == ["broken", *GOOD]  # the glob's order
    assert report["broken"]["status"] == "failed"
    assert "broken.tif" in report["broken"]["error"] and "\n" not in report["broken"]["error"]
    assert not (out / "broken.tif").exists()
    for stem in GOOD:
        entry = report[stem]
        assert entry["status"] == "done" and entry["error"] is None
        assert (entry["frames"], entry["objects"]) == (FRAMES, 1)
        assert entry["seconds"] > 0 and entry["worker"].startswith("tcp://127.0.0.1:")
        single = data / "single" / f"{stem}.tif"
        assert main(["segment", str(data / "stacks" / f"{stem}.tif"), "--prompts",
                     str(data / "prompts" / f"{stem}.json"), "--out", str(single),
                     *_cli_model(standin_checkpoint)]) == 0
        batch_labels, single_labels = tifffile.imread(out / f"{stem}.tif"), tifffile.imread(single)
        assert batch_labels.dtype == single_labels.dtype
        np.testing.assert_array_equal(batch_labels, single_labels)
        assert batch_labels.max() == 1
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporaries


def test_rerun_does_no_work_and_keeps_outputs(data, model):
    out = data / "out"
    before = {s: (out / f"{s}.tif").stat() for s in GOOD}
    entries = read_entries(out / REPORT_NAME)
    # No cluster can be reached at this address: a rerun with nothing to do needs none.
    nowhere = ClusterSettings(scheduler="tcp://127.0.0.1:9", connect_timeout_s=1)
    report = run([data / "stacks" / f"{s}.tif" for s in GOOD], out,
                 prompts_dir=data / "prompts", model=model, cluster=nowhere, progress=False)
    assert report.ok and report.skipped == GOOD
    assert report.entries == {s: entries[s] for s in GOOD}
    for stem in GOOD:
        after = (out / f"{stem}.tif").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before[stem].st_ino, before[stem].st_mtime_ns)
    assert read_entries(out / REPORT_NAME) == entries  # the failed entry kept too
    with pytest.raises(ValueError, match="cannot reach the dask scheduler"):
        run([data / "stacks" / "cells_a.tif"], out, prompts_dir=data / "prompts", model=model,
            cluster=nowhere, overwrite=True, progress=False)


def test_a_killed_worker_is_replaced_and_every_stack_finishes(data, scheduler, model, capsys):
    import cloudpickle
    from distributed import Client

    import tests.batch.faults as faults

    cloudpickle.register_pickle_by_value(faults)  # workers need not import the tests
    marker = data / "killed"
    out = data / "out-killed"
    with Client(scheduler) as client:
        client.register_plugin(faults.KillOnceDuringAStack(str(marker)))
        try:
            report = run([data / "stacks" / f"{s}.tif" for s in GOOD], out,
                         prompts_dir=data / "prompts", model=model,
                         cluster=ClusterSettings(scheduler=scheduler, torch_threads=1))
        finally:
            client.unregister_worker_plugin(faults.KillOnceDuringAStack.name)
    assert marker.exists()  # a worker did die in the middle of a stack
    assert report.ok, report.summary()
    for stem in GOOD:
        np.testing.assert_array_equal(tifffile.imread(out / f"{stem}.tif"),
                                      tifffile.imread(data / "out" / f"{stem}.tif"))
    assert "stacks 3/3" in capsys.readouterr().err  # the progress bar


def test_seeds_from_a_label_image(data, scheduler, model):
    seeds = data / "seeds"
    seeds.mkdir()
    labels = np.zeros((64, 64), np.uint16)
    labels[28:37, 18:27] = 5
    tifffile.imwrite(seeds / "cells_b.tif", labels)
    report = run([data / "stacks" / "cells_b.tif"], data / "out-seeds", seeds_dir=seeds,
                 model=model, progress=False,
                 cluster=ClusterSettings(scheduler=scheduler, torch_threads=1))
    assert report.ok, report.summary()
    assert report.entries["cells_b"].objects == 1
    result = tifffile.imread(data / "out-seeds" / "cells_b.tif")
    assert result.shape == (FRAMES, 64, 64) and set(np.unique(result)) <= {0, 5}


# --- without a cluster -------------------------------------------------------

@pytest.mark.parametrize("ctc", [False, True])
def test_an_interrupted_write_leaves_no_finished_looking_output(tmp_path, ctc):
    labels = _frames(0) > 1000
    target = tmp_path / ("s" if ctc else "s.tif")
    write = write_ctc if ctc else write_label_stack

    def interrupted(tmp: Path) -> None:
        write(tmp, labels.astype(np.uint16))  # everything written, then the run dies
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, interrupted)
    assert list(tmp_path.iterdir()) == []
    entry = StackEntry("s.tif", str(target), "done")
    assert not is_complete(entry, target)  # so a rerun redoes it

    write_atomically(target, lambda tmp: write(tmp, labels.astype(np.uint16)))
    assert is_complete(entry, target)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, lambda tmp: (write(tmp, np.zeros((1, 64, 64), np.uint16)),
                                              _raise(OSError("disk full"))))
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # the old output stays whole
    # What a killed process (no cleanup) leaves is hidden, and the next run removes it.
    stale = tmp_path / f".{target.name}.partial-0000.tif"
    stale.write_bytes(b"half")
    remove_partials(target)
    assert not stale.exists() and is_complete(entry, target)


def _raise(err: Exception):
    raise err


def test_stacks_prompts_and_seeds_are_matched_by_stem(tmp_path):
    for name in ("a.tif", "b.ome.tif", "c.npy"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.json").write_text("{}")
    (tmp_path / "p" / "b.csv").write_text("")
    assert stem_of(tmp_path / "b.ome.tif") == "b"
    stacks = expand_stacks([str(tmp_path / "*.tif"), tmp_path / "c.npy", tmp_path / "a.tif"])
    assert [p.name for p in stacks] == ["a.tif", "b.ome.tif", "c.npy"]
    with pytest.raises(ValueError, match="no stack matches"):
        expand_stacks([str(tmp_path / "*.zarr")])
    jobs, missing = make_jobs(stacks, tmp_path / "out", "ctc", prompts_dir=tmp_path / "p")
    assert [Path(j.prompts).name for j in jobs[:2]] == ["a.json", "b.csv"]
    assert jobs[1].output == str(tmp_path / "out" / "b")
    assert list(missing) == ["c"] and "c.*" in missing["c"]
    with pytest.raises(ValueError, match="same output"):
        make_jobs([tmp_path / "a.tif", tmp_path / "x" / "a.npy"], tmp_path, "tiff",
                  prompts_dir=tmp_path / "p")
    labels = np.zeros((1, 8, 8), np.int32)
    labels[0, 1:3, 1:3], labels[0, 5:7, 5:7] = 2, 7
    np.save(tmp_path / "seed.npy", labels)
    masks = read_seeds(tmp_path / "seed.npy")
    assert sorted(masks) == [2, 7] and masks[7].sum() == 4
    np.save(tmp_path / "empty.npy", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="no labels"):
        read_seeds(tmp_path / "empty.npy")


def test_whole_batch_problems_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "a.tif").write_bytes(b"")
    assert main(["batch", str(tmp_path / "*.nope"), "--out", str(tmp_path / "o"),
                 "--prompts-dir", str(tmp_path)]) == 1
    assert "no stack matches" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "a.tif"), "--out", str(tmp_path / "o")]) == 1
    assert "--prompts-dir" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "a.tif"), "--out", str(tmp_path / "o"),
                 "--prompts-dir", str(tmp_path), "--model", "sam9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("napari-sam2: error:") and "sam9" in err and "Traceback" not in err
    # A stack without prompts fails alone, before any cluster is needed.
    (tmp_path / "none").mkdir()
    report = run([tmp_path / "a.tif"], tmp_path / "o", prompts_dir=tmp_path / "none",
                 cluster=ClusterSettings(scheduler="tcp://127.0.0.1:9"), progress=False)
    assert report.failed == ["a"] and "no prompts or seeds" in report.entries["a"].error
    assert StackSettings().format == "tiff"
    with pytest.raises(ValueError, match="retries"):
        ClusterSettings(retries=-1)


def test_batch_has_help_with_the_segment_options(capsys):
    from napari_sam2.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["batch", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage: napari-sam2 batch" in text
    for option in ("--prompts-dir", "--seeds-dir", "--scheduler", "--overwrite", "--retries",
                   "--long-stack", "--format", "--image-size", "--no-progress"):
        assert option in text


def test_a_report_that_cannot_be_read_means_redo(tmp_path):
    (tmp_path / REPORT_NAME).write_text("{not json")
    assert read_entries(tmp_path / REPORT_NAME) == {}
    assert os.listdir(tmp_path) == [REPORT_NAME]
