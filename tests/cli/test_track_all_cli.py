"""``napari-sam2 track-all``: seeds from a label image, CTC / GEFF / TIFF out, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import build_parser, main


def disc(cy, cx, r, shape=(64, 64)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


@pytest.fixture
def files(tmp_path):
    image = np.full((3, 64, 64), 100, np.uint16)
    labels = np.zeros((3, 64, 64), np.uint16)
    for t in range(3):
        image[t][disc(20, 16 + 2 * t, 8)] = 3000
        image[t][disc(44, 44, 8)] = 3000
        labels[t][disc(20, 16 + 2 * t, 8)] = 1
        labels[t][disc(44, 44, 8)] = 2
    tifffile.imwrite(tmp_path / "stack.tif", image)
    tifffile.imwrite(tmp_path / "seeds.tif", labels)
    tifffile.imwrite(tmp_path / "seed0.tif", labels[0])
    return tmp_path


def test_help():
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["track-all", "--help"])
    assert exc.value.code == 0


def test_track_all_writes_a_ctc_folder(files, standin_checkpoint, capsys):
    common = ["--checkpoint", str(standin_checkpoint), "--image-size", "256", "--no-progress",
              "--device", "cpu", "--min-area", "4"]
    assert main(["track-all", str(files / "stack.tif"), "--seeds", str(files / "seeds.tif"),
                 "--reseed-every", "2", "--out", str(files / "ctc"), *common]) == 0
    assert "res_track.txt" in capsys.readouterr().out
    assert sorted(p.name for p in (files / "ctc").glob("mask*.tif")) == \
        ["mask000.tif", "mask001.tif", "mask002.tif"]
    rows = (files / "ctc" / "res_track.txt").read_text().split("\n")
    assert all(len(r.split()) == 4 for r in rows if r)


def test_tif_and_geff_formats(files):
    from napari_sam2.cli_track_all import _write
    from napari_sam2.engine.lineage import TrackGraph

    labels = tifffile.imread(files / "seeds.tif")
    _write(labels, TrackGraph.from_labels(labels), files / "t", "tif")
    assert (files / "t" / "res_track.txt").read_text() == "1 0 2 0\n2 0 2 0\n"
    assert (tifffile.imread(files / "t" / "labels.tif") == labels).all()
    _write(labels, TrackGraph.from_labels(labels), files / "g", "geff")
    import geff

    geff.validate_structure(str(files / "g" / "lineage.geff"))
    assert tifffile.imread(files / "g" / "labels.tif").shape == (3, 64, 64)


@pytest.mark.parametrize("args, message", [
    (["--seeds", "missing.tif"], "seed labels not found"),
    (["--seeds", "seed0.tif", "--reseed-every", "2"], "needs a (T, Y, X) seed stack"),
    (["--seeds", "seeds.tif", "--reseed-every", "0"], "reseed_every must be >= 1"),
    (["--seeds", "seeds.tif", "--stop", "9"], "not within"),
    (["--seeds", "bad.tif"], "do not match"),
])
def test_user_errors_are_one_line(files, capsys, args, message):
    tifffile.imwrite(files / "bad.tif", np.zeros((5, 5), np.uint16))
    args = [a if not a.endswith(".tif") else str(files / a) for a in args]
    assert main(["track-all", str(files / "stack.tif"), "--out", str(files / "o"), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
