"""Fuzzed prompt files: any text reads as records or fails with one clean line.

Random JSON and CSV text, near-valid documents with wrong fields and types,
invalid UTF-8, records built from junk, ``check_prompts_fit`` on random
records, and the round trip ``write_prompts`` -> ``read_prompts`` of valid
records in both formats.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_sam2.engine.prompt_file import (
    CSV_COLUMNS,
    PromptRecord,
    check_prompts_fit,
    read_prompts,
    write_prompts,
)

from ._fuzz import attempt, check_error

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read(suffix: str, content: str | bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"prompts{suffix}"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        records = attempt(read_prompts, path)
    if records is not None:
        assert records and all(isinstance(r, PromptRecord) for r in records)
        for r in records:
            assert r.frame >= 0 and r.obj_id >= 1 and (r.points or r.box is not None)
            assert all(math.isfinite(v) for p in r.points for v in p)
            assert set(r.labels) <= {0, 1} and len(r.labels) == len(r.points)
    return records


# --- arbitrary text ------------------------------------------------------------

@FUZZ
@given(text=st.text(max_size=200), suffix=st.sampled_from([".json", ".csv", ".CSV", ".txt"]))
def test_random_text(text, suffix):
    _read(suffix, text)


@FUZZ
@given(data=st.binary(max_size=100), suffix=st.sampled_from([".json", ".csv"]))
def test_random_bytes(data, suffix):
    _read(suffix, data)


# --- near-valid JSON -------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.floats(-10, 300),
                         st.floats(), st.text(max_size=3))
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4)
                           | st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=8)
numbers = st.one_of(st.integers(-2, 300), st.floats(-2, 300), json_scalars)
entries = st.fixed_dictionaries({}, optional={
    "frame": numbers, "object": numbers,
    "points": st.one_of(st.lists(st.lists(numbers, min_size=2, max_size=2), max_size=3),
                        json_values),
    "labels": st.one_of(st.lists(st.sampled_from([0, 1, 2, -1, 0.5, True, None]), max_size=3),
                        json_values),
    "box": st.one_of(st.lists(numbers, min_size=3, max_size=5), json_values),
    "extra": json_values,
})
documents = st.one_of(
    st.fixed_dictionaries({"version": st.one_of(st.just(1), json_scalars),
                           "prompts": st.one_of(st.lists(entries, max_size=4), json_values)}),
    json_values,
)


@FUZZ
@given(doc=documents)
def test_near_valid_json(doc):
    _read(".json", json.dumps(doc))  # NaN / Infinity literals included


def test_deeply_nested_json():
    with pytest.raises(ValueError) as info:
        _read_raw(".json", "[" * 100_000 + "]" * 100_000)
    check_error(info.value)


@pytest.mark.parametrize("entry", [
    {"frame": 0, "object": 1, "points": 5},
    {"frame": 0, "object": 1, "points": [[1, 2]], "labels": 1},
    {"frame": 0, "object": 1, "points": [[1, 2]], "labels": [None]},
    {"frame": 0, "object": 1, "box": {"x0": 1}},
    {"frame": [0], "object": 1, "box": [0, 0, 1, 1]},
    {"frame": True, "object": 1, "box": [0, 0, 1, 1]},
])
def test_json_wrong_field_types(entry):
    with pytest.raises(ValueError) as info:
        _read_raw(".json", json.dumps({"version": 1, "prompts": [entry]}))
    check_error(info.value)


def _read_raw(suffix, content: str | bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"p{suffix}"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return read_prompts(path)


# --- near-valid CSV ----------------------------------------------------------------

cells = st.one_of(st.integers(-2, 300).map(str), st.floats(-2, 300).map(repr),
                  st.sampled_from(["", " ", "point", "box", "POINT", "nan", "inf", "1e3", "x",
                                   '"', "a,b", "\n", "\x00"]))


@st.composite
def csv_texts(draw):
    header = draw(st.one_of(st.just(list(CSV_COLUMNS)), st.permutations(CSV_COLUMNS),
                            st.lists(st.sampled_from([*CSV_COLUMNS, "Frame", "junk"]),
                                     max_size=9)))
    width = st.lists(cells, min_size=max(0, len(header) - 2), max_size=len(header) + 2)
    rows = draw(st.lists(width, max_size=5))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return bom + newline.join(",".join(r) for r in [header, *rows]) + newline


@FUZZ
@given(text=csv_texts())
def test_near_valid_csv(text):
    _read(".csv", text)


def test_csv_pitfalls_read_or_fail_cleanly():
    good = "frame,object,kind,x,y,label,x1,y1\n0,1,point,3,4,1,,\n"
    assert _read(".csv", "\ufeff" + good)  # a BOM from a spreadsheet program
    assert _read(".csv", good.upper().replace("POINT", "point"))  # header case
    for bad in (good + "0,1,point,3,4,1,,,9\n",  # more cells than columns
                good.replace("3,4", "3\x00,4"),  # a NUL byte
                b"frame,object,kind,x,y\n0,1,point,\xff,4\n"):  # not UTF-8
        with pytest.raises(ValueError) as info:
            _read_raw(".csv", bad)
        check_error(info.value)


# --- records: construction, round trip, fit ---------------------------------------

coords = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
points = st.lists(st.tuples(coords, coords), max_size=3)


@st.composite
def records(draw):
    pts = draw(points)
    labels = draw(st.lists(st.sampled_from([0, 1]), min_size=len(pts), max_size=len(pts)))
    box = None
    if not pts or draw(st.booleans()):
        x0, x1 = sorted(draw(st.tuples(coords, coords)))
        y0, y1 = sorted(draw(st.tuples(coords, coords)))
        box = (x0, y0, x1, y1)
    return PromptRecord(draw(st.integers(0, 10**6)), draw(st.integers(1, 10**6)),
                        tuple(pts), tuple(labels), box)


unique_records = st.lists(records(), min_size=1, max_size=5,
                          unique_by=lambda r: (r.frame, r.obj_id))


@FUZZ
@given(recs=unique_records, suffix=st.sampled_from([".json", ".csv"]))
def test_round_trip(recs, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"p{suffix}"
        write_prompts(path, recs)
        back = read_prompts(path)
    # The CSV writes a record's box before its points; JSON keeps the order.
    assert sorted(back, key=lambda r: (r.frame, r.obj_id)) == sorted(
        recs, key=lambda r: (r.frame, r.obj_id))


@FUZZ
@given(frame=numbers, obj=numbers, pts=json_values, labels=json_values,
       box=st.one_of(st.none(), json_values, st.lists(numbers, min_size=4, max_size=4)))
def test_record_from_junk(frame, obj, pts, labels, box):
    rec = attempt(PromptRecord, frame, obj, pts, labels, box)
    if rec is not None:
        assert isinstance(rec.frame, int) and isinstance(rec.obj_id, int)
        assert all(isinstance(v, float) for p in rec.points for v in p)


@FUZZ
@given(recs=st.lists(records(), max_size=3), num_frames=st.integers(0, 20),
       frame_shape=st.tuples(st.integers(1, 50), st.integers(1, 50)))
def test_check_prompts_fit(recs, num_frames, frame_shape):
    ok = attempt(check_prompts_fit, recs, num_frames, frame_shape) is None
    h, w = frame_shape
    inside = all(
        r.frame < num_frames
        and all(0 <= x <= w and 0 <= y <= h for x, y in
                list(r.points) + ([r.box[:2], r.box[2:]] if r.box else []))
        for r in recs
    )
    assert ok or not inside


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        read_prompts(tmp_path / "nope.json")
    check_error(info.value)
    (tmp_path / "p.txt").write_text("{}")
    with pytest.raises(ValueError) as info:
        read_prompts(tmp_path / "p.txt")
    check_error(info.value)
