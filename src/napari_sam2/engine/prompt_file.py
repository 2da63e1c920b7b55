"""Prompts files shared by the command line and the napari plugin.

Coordinates are ``(x, y)`` pixels of a frame (x = column, y = row), frames
and objects are integers (object ids >= 1, because 0 is background in a
label image). Two formats, chosen by the file suffix:

JSON (``.json``)::

    {"version": 1, "prompts": [
        {"frame": 0, "object": 1, "points": [[120, 85], [140, 90]], "labels": [1, 0]},
        {"frame": 0, "object": 2, "box": [10, 10, 60, 48]}]}

``labels`` default to all 1 (foreground) when left out.

CSV (``.csv``), one row per point or box, header required::

    frame,object,kind,x,y,label,x1,y1
    0,1,point,120,85,1,,
    0,2,box,10,10,,60,48

For a box, ``x, y`` is the top-left and ``x1, y1`` the bottom-right corner.
Entries with the same frame and object are merged into one record (points
plus at most one box), in order of first appearance.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PromptRecord", "check_prompts_fit", "read_prompts", "write_prompts"]

CSV_COLUMNS = ("frame", "object", "kind", "x", "y", "label", "x1", "y1")


@dataclass(frozen=True)
class PromptRecord:
    """Clicks and/or a box for one object on one frame."""

    frame: int
    obj_id: int
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        # Canonical types (ints, float pairs, tuples) whatever the caller passed.
        init = object.__setattr__
        init(self, "frame", _integer(self.frame, "frame"))
        init(self, "obj_id", _integer(self.obj_id, "object id"))
        points = _items(self.points, "points must be a list")
        labels = _items(self.labels, "labels must be a list")
        init(self, "points", tuple(_pair(p) for p in points))
        init(self, "labels", tuple(_integer(v, "label") for v in labels))
        if self.box is not None:
            init(self, "box", _box(self.box))
        if self.frame < 0:
            raise ValueError(f"frame must be >= 0, got {self.frame}")
        if self.obj_id < 1:
            raise ValueError(f"object id must be >= 1 (0 is background), got {self.obj_id}")
        if len(self.points) != len(self.labels):
            raise ValueError(
                f"{len(self.points)} point(s) but {len(self.labels)} label(s) "
                f"(frame {self.frame}, object {self.obj_id})"
            )
        if any(lab not in (0, 1) for lab in self.labels):
            raise ValueError(f"point labels must be 1 (object) or 0 (background): {self.labels}")
        if not self.points and self.box is None:
            raise ValueError(f"frame {self.frame}, object {self.obj_id}: no points and no box")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if x1 < x0 or y1 < y0:
                raise ValueError(f"box {self.box} must be [x0, y0, x1, y1] with x0<=x1, y0<=y1")


def _show(value: Any) -> str:
    """A value from a file as the file spells it (JSON), shortened to one line."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, got {_show(value)}")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} must be a number, got {_show(value)}") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {_show(value)}")
    return x


def _integer(value: Any, what: str) -> int:
    x = _number(value, what)
    if not x.is_integer():
        raise ValueError(f"{what} must be an integer, got {_show(value)}")
    if abs(x) > 2**53:  # beyond exact floats; no stack has that many frames or objects
        raise ValueError(f"{what} {_show(value)} is too large")
    return int(x)


def _items(value: Any, rule: str, size: int | None = None) -> list:
    """The elements of a list-like (list, tuple, array) of ``size`` items, or ValueError(rule)."""
    items = None
    if not isinstance(value, (str, bytes, dict)):
        try:
            items = list(value)
        except TypeError:  # not iterable (a number, a 0-d array)
            pass
    if items is None or (size is not None and len(items) != size):
        raise ValueError(f"{rule}, got {_show(value)}")
    return items


def _pair(p: Any) -> tuple[float, float]:
    x, y = _items(p, "a point must be [x, y]", 2)
    return (_number(x, "x"), _number(y, "y"))


def _box(box: Any) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (_number(v, "box coordinate")
                      for v in _items(box, "box must be [x0, y0, x1, y1]", 4))
    return (x0, y0, x1, y1)


def _check_item(item: dict) -> dict:
    """Per-entry checks, so errors can name the CSV line or JSON entry."""
    if any(lab not in (0, 1) for lab in item["labels"]):
        raise ValueError(f"point labels must be 1 (object) or 0 (background): {item['labels']}")
    box = item["box"]
    if box is not None and (box[2] < box[0] or box[3] < box[1]):
        raise ValueError(f"box {list(box)} must be [x0, y0, x1, y1] with x0<=x1, y0<=y1")
    return item


def _merge(items: list[tuple[str, dict]]) -> list[PromptRecord]:
    """Merge ``(where, {frame, obj, points, labels, box})`` by frame and object."""
    merged: dict[tuple[int, int], dict] = {}
    for where, item in items:
        key = (item["frame"], item["obj"])
        acc = merged.setdefault(key, {"points": [], "labels": [], "box": None})
        if item["box"] is not None:
            if acc["box"] is not None:
                raise ValueError(f"{where}: a second box for frame {key[0]}, object {key[1]}")
            acc["box"] = item["box"]
        acc["points"] += item["points"]
        acc["labels"] += item["labels"]
    out = []
    for (frame, obj), acc in merged.items():
        try:
            out.append(PromptRecord(frame, obj, tuple(acc["points"]), tuple(acc["labels"]),
                                    acc["box"]))
        except ValueError as err:
            raise ValueError(f"frame {frame}, object {obj}: {err}") from None
    return out


def _read_text(path: Path) -> str:
    try:  # utf-8-sig: spreadsheet programs often start their files with a BOM
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None


def _read_json(path: Path) -> list[PromptRecord]:
    try:
        doc = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply") from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if type(version) is not int or version != 1 or "prompts" not in doc:
        raise ValueError(f'{path}: expected {{"version": 1, "prompts": [...]}}')
    if not isinstance(doc["prompts"], list):
        raise ValueError(f'{path}: "prompts" must be a list')  # noqa: TRY004 (bad file content)
    items = []
    for i, entry in enumerate(doc["prompts"]):
        where = f"{path}: prompt #{i}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be an object, got {_show(entry)}")
        for key in ("frame", "object"):
            if key not in entry:
                raise ValueError(f'{where}: missing "{key}"')
        unknown = set(entry) - {"frame", "object", "points", "labels", "box"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
        try:
            raw_points = entry.get("points")
            points = [] if raw_points is None else [
                _pair(p) for p in _items(raw_points, "points must be a list")]
            raw_labels = entry.get("labels")
            labels = [1] * len(points) if raw_labels is None else [
                _integer(v, "label") for v in _items(raw_labels, "labels must be a list")]
            box = entry.get("box")
            if box is not None:
                box = _box(box)
            item = _check_item({"frame": _integer(entry["frame"], "frame"),
                                "obj": _integer(entry["object"], "object"),
                                "points": points, "labels": labels, "box": box})
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        items.append((where, item))
    return _merge(items)


def _read_csv(path: Path) -> list[PromptRecord]:
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), skipinitialspace=True)
    try:
        return _merge(_csv_items(path, reader))
    except csv.Error as err:
        raise ValueError(f"{path}: line {reader.line_num}: not valid CSV ({err})") from None


def _csv_items(path: Path, reader: csv.DictReader) -> list[tuple[str, dict]]:
    items = []
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in ("frame", "object", "kind", "x", "y") if c not in header]
    if missing:
        raise ValueError(f"{path}: line 1: header lacks column(s) {missing}; "
                         f"expected {','.join(CSV_COLUMNS)}")
    reader.fieldnames = header
    for row in reader:
        where = f"{path}: line {reader.line_num}"
        if None in row:  # DictReader's key for cells beyond the header
            raise ValueError(f"{where}: more cells than the header has columns")
        if not any((v or "").strip() for v in row.values()):
            continue  # blank line
        cell = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
        try:
            kind = cell["kind"].lower()
            item = {"frame": _integer(cell["frame"], "frame"),
                    "obj": _integer(cell["object"], "object"),
                    "points": [], "labels": [], "box": None}
            x, y = _number(cell["x"], "x"), _number(cell["y"], "y")
            if kind == "point":
                item["points"] = [(x, y)]
                item["labels"] = [_integer(cell["label"], "label") if cell["label"] else 1]
            elif kind == "box":
                item["box"] = (x, y, _number(cell["x1"], "x1"), _number(cell["y1"], "y1"))
            else:
                raise ValueError(f"kind must be 'point' or 'box', got {cell['kind']!r}")
            _check_item(item)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        items.append((where, item))
    return items


def read_prompts(path: str | os.PathLike) -> list[PromptRecord]:
    """Read a ``.json`` or ``.csv`` prompts file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompts file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        records = _read_json(path)
    elif suffix == ".csv":
        records = _read_csv(path)
    else:
        raise ValueError(f"{path}: prompts must be a .json or .csv file")
    if not records:
        raise ValueError(f"{path}: no prompts in the file")
    return records


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def write_prompts(path: str | os.PathLike, records: Iterable[PromptRecord]) -> None:
    """Write records as ``.json`` or ``.csv`` (by suffix)."""
    path = Path(path)
    records = list(records)
    suffix = path.suffix.lower()
    if suffix == ".json":
        prompts = []
        for r in records:
            entry: dict[str, Any] = {"frame": r.frame, "object": r.obj_id}
            if r.points:
                entry["points"] = [[x, y] for x, y in r.points]
                entry["labels"] = list(r.labels)
            if r.box is not None:
                entry["box"] = list(r.box)
            prompts.append(entry)
        text = json.dumps({"version": 1, "prompts": prompts}, indent=1) + "\n"
        path.write_text(text, encoding="utf-8")
    elif suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(CSV_COLUMNS)
            for r in records:
                if r.box is not None:
                    x0, y0, x1, y1 = r.box
                    w.writerow([r.frame, r.obj_id, "box", _fmt(x0), _fmt(y0), "",
                                _fmt(x1), _fmt(y1)])
                for (x, y), lab in zip(r.points, r.labels):
                    w.writerow([r.frame, r.obj_id, "point", _fmt(x), _fmt(y), lab, "", ""])
    else:
        raise ValueError(f"{path}: prompts must be written to a .json or .csv file")


def check_prompts_fit(records: Iterable[PromptRecord], num_frames: int,
                      frame_shape: tuple[int, int]) -> None:
    """Raise ValueError when a prompt lies outside a stack of ``num_frames`` (H, W) frames."""
    h, w = frame_shape
    for r in records:
        what = f"prompt on frame {r.frame}, object {r.obj_id}"
        if r.frame >= num_frames:
            raise ValueError(
                f"{what}: the stack has only {num_frames} frame(s) (0..{num_frames - 1})"
            )
        coords = list(r.points) + ([r.box[:2], r.box[2:]] if r.box is not None else [])
        for x, y in coords:
            if not (0 <= x <= w and 0 <= y <= h):
                raise ValueError(f"{what}: point ({_fmt(x)}, {_fmt(y)}) lies outside the "
                                 f"{w} x {h} (width x height) frame")
