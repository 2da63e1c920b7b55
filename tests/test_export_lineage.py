"""CTC and GEFF lineage export, read back by tools nobody here wrote: traccuracy and geff."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_sam2.engine.lineage import ReseedRules, TrackGraph
from napari_sam2.engine.seeding import LabelStack
from napari_sam2.engine.synthetic import StackSpec, make_stack
from napari_sam2.engine.track_all import TrackAllOptions, run_track_all
from napari_sam2.export_lineage import write_geff, write_lineage_ctc
from tests.engine._oracle import OracleSession

SPEC = StackSpec(frames=10, size=(96, 96), cells=(2, 3), radius=(8, 12), cycle=6,
                 enter_leave=False)


@pytest.fixture(scope="module")
def stack():
    s = make_stack(SPEC, 5)
    assert s.parents == {3: 1, 4: 1, 5: 2, 6: 2}  # two divisions
    return s


def write_truth(folder, labels, parents):
    """A CTC ground truth written here by hand (not through our exporter)."""
    folder.mkdir(parents=True)
    lines = []
    for cell in np.unique(labels[labels > 0]):
        frames = np.nonzero((labels == cell).any(axis=(1, 2)))[0]
        lines.append(f"{cell} {frames[0]} {frames[-1]} {parents.get(int(cell), 0)}\n")
    for t, frame in enumerate(labels):
        tifffile.imwrite(folder / f"man_track{t:03d}.tif", frame.astype(np.uint16))
    (folder / "man_track.txt").write_text("".join(lines))


def scores(truth_dir, result_dir):
    from traccuracy import run_metrics
    from traccuracy.loaders import load_ctc_data
    from traccuracy.matchers import CTCMatcher
    from traccuracy.metrics import CTCMetrics, DivisionMetrics

    gt = load_ctc_data(str(truth_dir), str(truth_dir / "man_track.txt"), name="truth")
    pred = load_ctc_data(str(result_dir), str(result_dir / "res_track.txt"), name="ours")
    results, _ = run_metrics(gt, pred, CTCMatcher(), [CTCMetrics(), DivisionMetrics()])
    out = {}
    for r in results:
        res = r["results"]
        out.update(res.get("Frame Buffer 0", res))
    return out


def test_ground_truth_through_our_exporter_scores_perfectly(stack, tmp_path):
    write_truth(tmp_path / "GT", stack.labels, stack.parents)
    graph = TrackGraph.from_labels(stack.labels, stack.parents)
    tracks = write_lineage_ctc(tmp_path / "RES", stack.labels, graph)
    assert sorted((t[0], t[3]) for t in tracks if t[3]) == [(3, 1), (4, 1), (5, 2), (6, 2)]
    s = scores(tmp_path / "GT", tmp_path / "RES")
    assert s["TRA"] == pytest.approx(1.0) and s["DET"] == pytest.approx(1.0)
    assert s["Division F1"] == pytest.approx(1.0)


def test_a_tracking_run_reads_back_and_scores(stack, tmp_path):
    write_truth(tmp_path / "GT", stack.labels, stack.parents)
    result = run_track_all(OracleSession(stack.labels), LabelStack(stack.labels),
                           TrackAllOptions(reseed_every=1, rules=ReseedRules(min_area=1)))
    write_lineage_ctc(tmp_path / "RES", result.labels, result.graph)
    s = scores(tmp_path / "GT", tmp_path / "RES")
    assert s["TRA"] == pytest.approx(1.0) and s["Division F1"] == pytest.approx(1.0), s
    print("traccuracy, track-all with a perfect tracker:", s)
    # Without re-seeding the daughters are never found: divisions are missed.
    late = run_track_all(OracleSession(stack.labels), LabelStack(stack.labels),
                         TrackAllOptions(rules=ReseedRules(min_area=1)))
    write_lineage_ctc(tmp_path / "LATE", late.labels, late.graph)
    s = scores(tmp_path / "GT", tmp_path / "LATE")
    assert s["Division Recall"] == 0 and s["DET"] < 1.0, s


def test_geff_validates_and_reads_back(stack, tmp_path):
    import geff

    graph = TrackGraph.from_labels(stack.labels, stack.parents)
    path = write_geff(tmp_path / "lineage.geff", graph)
    geff.validate_structure(str(path))
    g, meta = geff.read(str(path))
    detections = sum(len(graph.track(t).frames) for t in graph.track_ids)
    assert g.number_of_nodes() == detections
    divisions = [(u, v) for u, v, d in g.edges(data=True) if d["division"]]
    assert len(divisions) == 4
    for u, v in divisions:  # mother's last detection -> a daughter's first
        assert g.nodes[v]["t"] == g.nodes[u]["t"] + 1
        assert stack.parents[g.nodes[v]["track_id"]] == g.nodes[u]["track_id"]
    links = g.number_of_edges() - len(divisions)
    assert links == detections - len(graph.track_ids)
    node = next(iter(g.nodes.values()))
    assert {"t", "y", "x", "area", "object_score", "iou", "track_id"} <= set(node)
    assert [a.name for a in meta.axes] == ["t", "y", "x"]
