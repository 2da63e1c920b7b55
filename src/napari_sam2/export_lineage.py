"""Writing a lineage: Cell Tracking Challenge folders with parent links, and GEFF graphs.

CTC: :func:`write_lineage_ctc` writes the masks and ``res_track.txt`` with
each daughter's mother (``export.write_ctc`` with the graph's parent links).
GEFF (the Graph Exchange File Format, https://liveimagetrackingtools.org/geff/):
:func:`write_geff` writes one node per object and frame, with ``t``, ``y``,
``x`` (the centroid), ``area``, ``object_score``, ``iou`` and ``track_id``,
and one edge per link: frame to frame within a track (``division`` False)
and mother's last detection to each daughter's first (``division`` True).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from napari_sam2.engine.lineage import TrackGraph
from napari_sam2.export import write_ctc

__all__ = ["lineage_networkx", "track_stack_summary", "write_geff", "write_lineage_ctc"]


def write_lineage_ctc(folder: str | os.PathLike, labels,
                      graph: TrackGraph) -> list[tuple[int, int, int, int]]:
    """A CTC result folder of ``labels`` (ids are track ids) with ``graph``'s divisions."""
    return write_ctc(folder, labels, parents=graph.parents())


def lineage_networkx(graph: TrackGraph):
    """``graph`` as a ``networkx.DiGraph``: nodes per detection, edges per link."""
    import networkx as nx

    g = nx.DiGraph()
    node_of: dict[tuple[int, int], int] = {}
    for track_id in graph.track_ids:
        track = graph.track(track_id)
        previous = None
        for frame in track.frames:
            det = track.detections[frame]
            node = len(node_of) + 1
            node_of[(track_id, frame)] = node
            g.add_node(node, t=int(frame), y=det.centroid[0], x=det.centroid[1],
                       area=int(det.area), object_score=float(det.object_score),
                       iou=float(det.iou), track_id=int(track_id))
            if previous is not None:
                g.add_edge(previous, node, division=False)
            previous = node
    for daughter, mother in sorted(graph.parents().items()):
        m, d = graph.track(mother), graph.track(daughter)
        if m.detections and d.detections:
            g.add_edge(node_of[(mother, m.last)], node_of[(daughter, d.frames[0])],
                       division=True)
    return g


def write_geff(path: str | os.PathLike, graph: TrackGraph, *,
               overwrite: bool = True) -> Path:
    """Write ``graph`` as a GEFF zarr at ``path`` (validated by ``geff`` while writing)."""
    import geff

    path = Path(path)
    g = lineage_networkx(graph)
    if g.number_of_nodes() == 0:
        raise ValueError("the lineage has no detections: nothing to write")
    geff.write(g, str(path), axis_names=["t", "y", "x"], axis_types=["time", "space", "space"],
               overwrite=overwrite)
    return path


def track_stack_summary(labels: np.ndarray, graph: TrackGraph) -> str:
    """One line: tracks, divisions and frames of a result."""
    return (f"{len(graph.table())} tracks, {len(graph.divisions())} divisions, "
            f"{np.asarray(labels).shape[0]} frames")
