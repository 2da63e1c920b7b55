"""Qt-free adapter tests: layout, labels merging with undo, writer, sample data, settings."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Labels, Points

from napari_sam2._napari.labels import LabelsEditor, merge_frame
from napari_sam2._napari.layout import StackLayout, check_dtype
from napari_sam2._napari.prompts import (
    collect_prompts,
    flip_points,
    prepare_points_layer,
    toggle_polarity,
)
from napari_sam2._napari.propagation import PropagationRun
from napari_sam2._napari.sample_data import make_timelapse, make_zstack, timelapse_sample
from napari_sam2._napari.writer import write_labels


def test_layout_tczyx_tracked_through_t_at_z():
    lay = StackLayout((5, 3, 4, 64, 64), channel_axis=1).with_position((0, 2, 0, 0), 0)
    assert lay.labels_shape == (5, 4, 64, 64)
    assert lay.fixed == ((2, 2),)
    assert lay.labels_index(3) == (3, 2)
    assert lay.frame_of([3, 2, 10, 10]) == 3
    assert lay.frame_of([3, 1, 10, 10]) is None  # another z: not on the tracked plane
    assert lay.session_kwargs(1) == {
        "rgb": False,
        "frame_axis": 0,
        "fixed": {2: 2},
        "channel_axis": 1,
        "channel": 1,
    }


def test_layout_rgb_single_image_and_dtype():
    lay = StackLayout((64, 80, 3), rgb=True).with_position((), None)
    assert lay.labels_shape == (64, 80) and lay.labels_index(0) == () and lay.num_frames == 1
    with pytest.raises(ValueError, match="frame axis"):
        StackLayout((4, 64, 64)).with_position((0, 0, 0), None)
    with pytest.raises(ValueError, match="unsupported pixel type"):
        check_dtype(np.complex64)


def test_merge_frame_protects_other_objects_unless_overwrite():
    cur = np.zeros((4, 4), np.uint32)
    cur[0, :] = 7  # someone else's object
    cur[3, 3] = 2  # object 2's old pixel, outside its new mask
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    new = merge_frame(cur, [2], [mask])
    assert (new[0] == 7).all() and new[1, 0] == 2 and new[3, 3] == 0
    assert (merge_frame(cur, [2], [mask], overwrite=True)[0, :2] == 2).all()


def test_editor_records_writes_and_restores_them_around_later_painting():
    layer = Labels(np.zeros((3, 8, 8), np.uint32))
    editor = LabelsEditor(layer)
    mask = np.ones((8, 8), bool)
    changes: list = []
    with editor.record(changes):
        for z in range(3):
            editor.write_plane((z,), [1], [mask])
    assert layer.data.all() and len(changes) == 3
    layer.data[1, 0, 0] = 5  # painted by hand after the run
    editor.restore(changes)
    assert layer.data[1, 0, 0] == 5 and (layer.data > 0).sum() == 1  # the stroke stays
    assert not layer._undo_history  # napari's history keeps hand-painting only
    editor.write_plane((0,), [1], [mask])
    editor.clear_object(1)
    assert (layer.data > 0).sum() == 1


def test_points_to_prompts_row_col_to_xy_and_polarity():
    pts = Points(np.array([[2, 10.0, 20.0], [2, 30, 40]]), ndim=3, scale=(1, 2, 2))
    ref = Labels(np.zeros((4, 64, 64), np.uint32), scale=(1, 2, 2))
    prepare_points_layer(pts, obj_id=3)
    pts.selected_data = {1}
    assert toggle_polarity(pts, 3) is False  # the next point; the selected one stays
    assert pts.features["positive"].tolist() == [True, True]
    flip_points(pts, [1])
    lay = StackLayout((4, 64, 64)).with_position((0, 0, 0), 0)
    prompts = collect_prompts(pts, None, ref, lay)
    assert list(prompts) == [(2, 3)]
    assert prompts[(2, 3)].points == ((20.0, 10.0), (40.0, 30.0))  # (x, y) = (col, row)
    assert prompts[(2, 3)].labels == (1, 0)


def test_writer_roundtrip(tmp_path):
    import tifffile

    data = np.zeros((3, 16, 16), np.uint32)
    data[1, 4:8, 4:8] = 300
    (path,) = write_labels(str(tmp_path / "masks.tif"), data, {})
    back = tifffile.imread(path)
    assert back.dtype == np.uint16 and np.array_equal(back, data)


def test_sample_data():
    t = make_timelapse(6, 64, 3)
    z = make_zstack(5, 64, 3)
    assert t.shape == (6, 64, 64) and t.dtype == np.uint16 and t.std() > 0
    assert z.shape == (5, 64, 64) and z.dtype == np.uint16
    ((data, kwargs, kind),) = timelapse_sample()
    assert kind == "image" and data.ndim == 3 and kwargs["name"]


def test_plugin_settings_one_value_with_replace():
    from dataclasses import replace

    from napari_sam2._napari.settings import PluginSettings

    s = PluginSettings(device="cpu", image_size=256, fill_hole_area=8)
    assert s.model_spec.device == "cpu" and s.model_spec.image_size == 256
    t = replace(s, overwrite=True)
    assert t.overwrite and not s.overwrite and t.model_spec == s.model_spec  # same model
    assert replace(s, bfloat16=True).model_spec != s.model_spec
    with pytest.raises(ValueError, match="multiple of 32"):
        replace(s, image_size=100)
    with pytest.raises(ValueError, match=">= 0"):
        PluginSettings(fill_hole_area=-1)


def test_session_state_sends_only_changes():
    from napari_sam2._napari.prompts import FramePrompt
    from napari_sam2._napari.state import SessionState

    st = SessionState(session=None, layout=None)
    click = FramePrompt(((1.0, 2.0),), (1,))
    assert st.changed({(0, 1): click, (2, 3): click}) == [(0, 1), (2, 3)]
    st.mark_sent((0, 1), click)
    st.mark_sent((2, 3), click)
    assert st.changed({(0, 1): click, (2, 3): click}) == []
    assert st.changed({(0, 1): click}) == [(2, 3)]  # a removed prompt counts as a change
    st.forget_object(3)
    assert dict(st.sent) == {(0, 1): click}
    with pytest.raises(TypeError):
        st.sent[(5, 5)] = click  # read-only: changes go through mark_sent


def test_worker_runs_fake_generator_and_cancels(qtbot):
    import time

    got, done = [], []

    def slow():
        for i in range(50):
            time.sleep(0.02)
            yield i

    run = PropagationRun(slow(), 50, got.append, lambda c, e: done.append((c, e)))
    run.start()
    qtbot.waitUntil(lambda: len(got) >= 3, timeout=5000)
    run.cancel()
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    assert done == [(True, None)] and 3 <= len(got) < 50
    assert got == list(range(len(got)))  # frames that arrived are all kept, in order
