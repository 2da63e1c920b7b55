from __future__ import annotations

import json

import pytest

from napari_sam2.engine.prompt_file import (
    PromptRecord,
    check_prompts_fit,
    read_prompts,
    write_prompts,
)

RECORDS = [
    PromptRecord(0, 1, points=((120.0, 85.0), (140.5, 90.0)), labels=(1, 0)),
    PromptRecord(0, 2, box=(10.0, 10.0, 60.0, 48.0)),
    PromptRecord(3, 2, points=((30.0, 20.0),), labels=(1,), box=(5.0, 6.0, 70.0, 80.25)),
]


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_roundtrip(tmp_path, suffix):
    path = tmp_path / f"prompts{suffix}"
    write_prompts(path, RECORDS)
    assert read_prompts(path) == RECORDS


def test_json_example_and_default_labels(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"version": 1, "prompts": [
        {"frame": 2, "object": 1, "points": [[1, 2], [3, 4]]},
        {"frame": 2, "object": 1, "box": [0, 0, 5, 5]},
    ]}))
    assert read_prompts(path) == [
        PromptRecord(2, 1, ((1.0, 2.0), (3.0, 4.0)), (1, 1), (0.0, 0.0, 5.0, 5.0))
    ]


def test_csv_example_merges_rows(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "frame,object,kind,x,y,label,x1,y1\n"
        "0,1,point,120,85,1,,\n"
        "0, 1, point, 140, 90, 0,,\n"
        "\n"
        "0,2,box,10,10,,60,48\n"
        "0,1,point,5,6,,,\n"
    )
    recs = read_prompts(path)
    assert recs[0] == PromptRecord(0, 1, ((120, 85), (140, 90), (5, 6)), (1, 0, 1))
    assert recs[1] == PromptRecord(0, 2, box=(10, 10, 60, 48))


@pytest.mark.parametrize(
    "rows, message",
    [
        ("0,1,circle,1,2,1,,", "line 2: kind must be"),
        ("0,1,point,abc,2,1,,", "line 2: x must be a number"),
        ("0.5,1,point,1,2,1,,", "line 2: frame must be an integer"),
        ("0,1,point,1,2,1,,\n0,1,box,1,2,,0,5", "line 3: box"),
        ("0,1,point,1,2,7,,", "line 2: point labels must be 1"),
        ("0,0,point,1,2,1,,", "object id must be >= 1"),
        ("0,1,box,1,2,,3,4\n0,1,box,1,2,,3,4", "line 3: a second box"),
        ("0,1,point,nan,2,1,,", "finite"),
    ],
)
def test_csv_errors_name_the_line(tmp_path, rows, message):
    path = tmp_path / "p.csv"
    path.write_text("frame,object,kind,x,y,label,x1,y1\n" + rows + "\n")
    with pytest.raises(ValueError, match=message):
        read_prompts(path)


def test_csv_bad_header(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("t,obj,x,y\n0,1,2,3\n")
    with pytest.raises(ValueError, match="line 1: header"):
        read_prompts(path)


@pytest.mark.parametrize(
    "doc, message",
    [
        ([], "version"),
        ({"version": 2, "prompts": []}, "version"),
        ({"version": 1, "prompts": [{"object": 1, "points": [[1, 2]]}]}, 'missing "frame"'),
        ({"version": 1, "prompts": [{"frame": 0, "object": 1}]}, "no points and no box"),
        (
            {"version": 1, "prompts": [{"frame": 0, "object": 1, "points": [[1, 2, 3]]}]},
            r"\[x, y\]",
        ),
        (
            {
                "version": 1,
                "prompts": [{"frame": 0, "object": 1, "points": [[1, 2]], "labels": [1, 1]}],
            },
            "1 point",
        ),
        ({"version": 1, "prompts": [{"frame": 0, "object": 1, "box": [1, 2]}]}, "box must be"),
        ({"version": 1, "prompts": [{"frame": -1, "object": 1, "box": [1, 2, 3, 4]}]}, ">= 0"),
        ({"version": 1, "prompts": [{"frame": 0, "obj": 1, "box": [1, 2, 3, 4]}]}, "object"),
        ({"version": 1, "prompts": []}, "no prompts"),
    ],
)
def test_json_errors(tmp_path, doc, message):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message):
        read_prompts(path)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_prompts(tmp_path / "missing.json")
    (tmp_path / "p.txt").write_text("x")
    with pytest.raises(ValueError, match=".json or .csv"):
        read_prompts(tmp_path / "p.txt")
    (tmp_path / "p.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_prompts(tmp_path / "p.json")
    with pytest.raises(ValueError, match=".json or .csv"):
        write_prompts(tmp_path / "out.txt", RECORDS)


def test_check_prompts_fit():
    check_prompts_fit(RECORDS, num_frames=4, frame_shape=(100, 200))
    with pytest.raises(ValueError, match="only 3 frame"):
        check_prompts_fit(RECORDS, num_frames=3, frame_shape=(100, 200))
    with pytest.raises(ValueError, match="outside the 100 x 100"):
        check_prompts_fit(RECORDS, num_frames=4, frame_shape=(100, 100))
