"""Writing segmentation results: labelled TIFF stacks and Cell Tracking Challenge folders.

CTC format (https://celltrackingchallenge.net/datasets/, "naming and file
content conventions"): one ``maskTTT.tif`` (uint16) per time point, where each
object carries its track label, and ``res_track.txt`` with one line
``L B E P`` per track: label, first and last frame (inclusive, 0-based) and
the parent track's label (0 = none). A track must be continuous in time, so
an object that disappears and comes back is split: each continuous stretch
becomes its own track, the first keeping the object id and later ones getting
new labels (above every object id) with the previous stretch as parent.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from napari_sam2.engine.labels import as_label_array as _as_labels
from napari_sam2.engine.labels import label_dtype

__all__ = [
    "LABELS_MARK",
    "ctc_tracks",
    "is_label_stack",
    "label_dtype",
    "write_ctc",
    "write_label_stack",
]

# The TIFF Software tag of every label stack written here: the plugin's reader
# (``_napari/reader.py``) opens files carrying it as a Labels layer.
LABELS_MARK = "napari-sam2 labels"

# ImageJ hyperstack axes by number of dimensions (ImageJ holds at most 5).
IMAGEJ_AXES = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TZCYX"}


def write_label_stack(path: str | os.PathLike, labels, *, imagej: bool = False) -> Path:
    """Write a label image or stack as one TIFF in :func:`label_dtype` (uint16, or
    uint32 when an id exceeds 65535). Axes are kept as given (e.g. T/Z, Y, X).

    By default zlib-compressed and written plane by plane, so a memory-mapped
    ``labels`` larger than RAM is never loaded whole. ``imagej=True`` (napari's
    writer) stores an uncompressed ImageJ hyperstack with its axes instead,
    where ImageJ can hold it (uint16, 2 to 5 axes).
    """
    arr = _as_labels(labels)
    dtype = label_dtype(int(arr.max()) if arr.size else 0)
    import tifffile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = IMAGEJ_AXES.get(arr.ndim)
    if imagej and dtype == np.uint16 and axes is not None:
        tifffile.imwrite(path, arr.astype(dtype, copy=False), imagej=True,
                         metadata={"axes": axes}, compression=None, software=LABELS_MARK)
        return path
    options = {"compression": "zlib", "photometric": "minisblack", "software": LABELS_MARK}
    if arr.ndim <= 2:
        tifffile.imwrite(path, arr.astype(dtype), **options)
    else:
        planes = (plane.astype(dtype) for plane in arr.reshape(-1, *arr.shape[-2:]))
        tifffile.imwrite(path, planes, shape=arr.shape, dtype=dtype, **options)
    return path


def is_label_stack(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a TIFF written by :func:`write_label_stack` (its mark)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            tag = tif.pages.first.tags.get(305)  # Software
            return tag is not None and str(tag.value).strip() == LABELS_MARK
    except (OSError, ValueError, tifffile.TiffFileError):
        return False


def _segments(frames: list[int]) -> list[tuple[int, int]]:
    """Continuous ``(first, last)`` stretches of a sorted list of frames."""
    out: list[tuple[int, int]] = []
    for f in frames:
        if out and f == out[-1][1] + 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


def ctc_tracks(labels, parents: dict[int, int] | None = None):
    """Track table and relabelling for ``labels`` (T, ...) in CTC terms.

    Returns ``(tracks, relabel)``: ``tracks`` is a list of ``(L, B, E, P)``;
    ``relabel[t]`` maps object ids to track labels on frame ``t`` where they
    differ (only after a gap).
    """
    arr = _as_labels(labels)
    present: dict[int, list[int]] = {}
    for t in range(arr.shape[0]):
        for obj in np.unique(arr[t]):
            if obj:
                present.setdefault(int(obj), []).append(t)
    next_label = max(present, default=0) + 1
    tracks: list[tuple[int, int, int, int]] = []
    pieces: dict[int, list[tuple[int, int, int]]] = {}  # obj -> [(label, B, E)]
    relabel: dict[int, dict[int, int]] = {}
    for obj in sorted(present):
        for i, (b, e) in enumerate(_segments(present[obj])):
            label = obj if i == 0 else next_label
            if i:
                next_label += 1
                for t in range(b, e + 1):
                    relabel.setdefault(t, {})[obj] = label
            pieces.setdefault(obj, []).append((label, b, e))
    for obj, segs in pieces.items():
        for i, (label, b, e) in enumerate(segs):
            parent = segs[i - 1][0] if i else _parent_label(obj, b, parents, pieces)
            tracks.append((label, b, e, parent))
    tracks.sort()
    return tracks, relabel


def _parent_label(obj: int, begin: int, parents, pieces) -> int:
    """Label of the parent's last stretch ending before ``begin`` (CTC: E_parent < B_child)."""
    if not parents or obj not in parents or not parents[obj]:
        return 0
    parent = parents[obj]
    if parent not in pieces:
        raise ValueError(f"parent {parent} of object {obj} does not appear in the labels")
    before = [label for label, _, e in pieces[parent] if e < begin]
    if not before:
        raise ValueError(
            f"object {obj} starts on frame {begin} but its parent {parent} does not end before it"
        )
    return before[-1]


def write_ctc(
    folder: str | os.PathLike, labels, parents: dict[int, int] | None = None
) -> list[tuple[int, int, int, int]]:
    """Write ``labels`` (T, Y, X) or (T, Z, Y, X) as a CTC result folder.

    ``parents`` maps a daughter object id to its mother's id (divisions).
    Files: ``mask000.tif`` ... (``mask0000.tif`` when there are more than
    1000 frames) and ``res_track.txt``. Old ``mask*.tif`` files in the folder
    are removed so that a shorter result never mixes with a longer one.
    Returns the track table ``[(L, B, E, P), ...]``.
    """
    arr = _as_labels(labels)
    if arr.ndim not in (3, 4):
        raise ValueError(f"CTC needs labels of shape (T, Y, X) or (T, Z, Y, X), got {arr.shape}")
    tracks, relabel = ctc_tracks(arr, parents)
    if tracks and max(t[0] for t in tracks) > 0xFFFF:
        raise ValueError("CTC masks are uint16: more than 65535 track labels")
    import tifffile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("mask*.tif"):
        if re.fullmatch(r"mask\d+\.tif", old.name):
            old.unlink()
    digits = 3 if arr.shape[0] <= 1000 else 4
    for t in range(arr.shape[0]):
        frame = arr[t].astype(np.uint16)
        for obj, label in relabel.get(t, {}).items():
            frame[arr[t] == obj] = label
        # Uncompressed: the CTC evaluation tools read plain TIFF.
        tifffile.imwrite(folder / f"mask{t:0{digits}d}.tif", frame, photometric="minisblack",
                         software=LABELS_MARK)
    lines = "".join(f"{L} {B} {E} {P}\n" for L, B, E, P in tracks)
    (folder / "res_track.txt").write_text(lines)
    return tracks
