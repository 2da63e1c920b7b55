"""Prompts files: the plugin saves and loads the command line's .json/.csv format."""

from __future__ import annotations

import numpy as np
import pytest
from tests.napari.gui_wait import settle

from napari_sam2._napari.sample_data import make_timelapse, make_zstack
from napari_sam2.engine.prompt_file import PromptRecord, read_prompts, write_prompts


def _ready(open_widget, data, **kwargs):
    viewer, widget = open_widget(data, **kwargs)
    assert widget.setup_layers()
    return viewer, widget, widget.controller


def test_save_writes_clicks_and_boxes_of_every_object(open_widget, tmp_path):
    _viewer, widget, ctrl = _ready(open_widget, make_timelapse(4, 96, 2))
    ctrl.points_layer.feature_defaults = {"positive": True, "obj_id": 1}
    ctrl.points_layer.add([[0, 40, 30]])  # row 40, col 30 -> (x, y) = (30, 40)
    settle(ctrl)
    ctrl.points_layer.feature_defaults = {"positive": False, "obj_id": 1}
    ctrl.points_layer.add([[0, 50, 35]])
    settle(ctrl)
    ctrl.shapes_layer.feature_defaults = {"obj_id": 2}
    ctrl.shapes_layer.add_rectangles(np.array([[2, 10, 20], [2, 10, 60], [2, 50, 60], [2, 50, 20]]))
    settle(ctrl)
    widget.save_prompts(str(tmp_path / "p.json"))
    assert read_prompts(tmp_path / "p.json") == [
        PromptRecord(0, 1, points=((30.0, 40.0), (35.0, 50.0)), labels=(1, 0)),
        PromptRecord(2, 2, box=(20.0, 10.0, 60.0, 50.0)),
    ]


def test_load_places_prompts_and_segments_their_slices(open_widget, tmp_path):
    records = [
        PromptRecord(1, 1, points=((64.0, 64.0),), labels=(1,)),
        PromptRecord(3, 5, points=((30.0, 70.0),), labels=(1,), box=(10.0, 50.0, 60.0, 90.0)),
    ]
    write_prompts(tmp_path / "p.csv", records)
    _viewer, widget, ctrl = _ready(open_widget, make_timelapse(5, 128, 3))
    widget.load_prompts(str(tmp_path / "p.csv"))
    settle(ctrl)
    np.testing.assert_array_equal(ctrl.points_layer.data, [[1, 64, 64], [3, 70, 30]])
    assert ctrl.points_layer.features["obj_id"].tolist() == [1, 5]
    assert ctrl.points_layer.features["positive"].tolist() == [True, True]
    assert ctrl.shapes_layer.features["obj_id"].tolist() == [5]
    assert [(o, frames) for o, _c, frames in ctrl.objects()] == [(1, [1]), (5, [3])]
    assert ctrl.state().sent[(3, 5)].box == (10.0, 50.0, 60.0, 90.0)
    area = (ctrl.labels_layer.data > 0).sum(axis=(1, 2))
    assert area[[0, 2, 4]].sum() == 0  # only the prompted slices are segmented
    # Saving again gives the same file content back.
    widget.save_prompts(str(tmp_path / "again.csv"))
    assert read_prompts(tmp_path / "again.csv") == records


def test_load_on_a_zstack_with_scale_goes_to_the_right_pixels(open_widget, tmp_path):
    write_prompts(tmp_path / "p.json", [PromptRecord(2, 1, points=((20.0, 30.0),), labels=(0,))])
    # Anisotropic voxels: prompts must land on the same pixels in every layer.
    _viewer, widget, ctrl = _ready(open_widget, make_zstack(4, 64), scale=(3.0, 0.5, 0.5))
    widget.load_prompts(str(tmp_path / "p.json"))
    settle(ctrl)
    np.testing.assert_allclose(ctrl.points_layer.data, [[2, 30, 20]])
    frame, obj = next(iter(ctrl.state().sent))
    assert (frame, obj) == (2, 1)
    assert ctrl.state().sent[(2, 1)].points == ((20.0, 30.0),)
    assert ctrl.state().sent[(2, 1)].labels == (0,)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": 1, "prompts": [{"frame": 9, "object": 1, "points": [[5, 5]]}]}',
         "only 4 frame"),
        ('{"version": 1, "prompts": [{"frame": 0, "object": 1, "points": [[500, 5]]}]}',
         "outside"),
        ("not json", "not valid JSON"),
    ],
)
def test_bad_prompts_file_is_a_notification(open_widget, tmp_path, notifications, content, message):
    (tmp_path / "bad.json").write_text(content)
    _viewer, widget, ctrl = _ready(open_widget, make_timelapse(4, 96, 2))
    widget.load_prompts(str(tmp_path / "bad.json"))
    settle(ctrl)
    assert any(level == "error" and message in text for level, text in notifications)
    assert len(ctrl.points_layer.data) == 0 and not ctrl.labels_layer.data.any()


def test_saving_without_prompts_is_a_notification(open_widget, tmp_path, notifications):
    _viewer, widget, _ctrl = _ready(open_widget, make_timelapse(3, 96, 2))
    widget.save_prompts(str(tmp_path / "p.json"))
    assert any("no prompts to save" in text for _, text in notifications)
    assert not (tmp_path / "p.json").exists()
