"""Seed from a labels layer and "Track all" in a real viewer (stand-in weights)."""

from __future__ import annotations

import numpy as np
from tests.napari.gui_wait import settle


def _stack(n=4, size=128):
    yy, xx = np.mgrid[:size, :size]
    image = np.full((n, size, size), 100, np.uint16)
    seeds = np.zeros((n, size, size), np.uint16)
    for t in range(n):
        for label, (cy, cx) in enumerate([(40, 40 + 3 * t), (90, 90)], 1):
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 15**2
            image[t][disc] = 3000
            seeds[t][disc] = label
    return image, seeds


def test_seed_and_track_all_write_undoable_labels_and_export(open_widget, qtbot, tmp_path):
    import geff

    image, seeds = _stack()
    viewer, widget = open_widget(image)
    assert widget.setup_layers()
    out = widget.controller.labels_layer
    seed_layer = viewer.add_labels(seeds, name="seeds")
    panel = widget.track_all
    panel.seeds.set_layer(seed_layer)
    viewer.dims.set_current_step(0, 0)

    panel.seed_button.click()  # model work in a worker
    qtbot.waitUntil(lambda: not widget.controller.is_running, timeout=120_000)
    assert set(widget.controller.session.obj_ids) == {1, 2}
    assert out.data[0].any() and not out.data[1:].any()
    widget.controller.undo()  # one step of the plugin's undo: labels and session
    settle(widget.controller)
    assert not out.data.any() and not widget.controller.session.obj_ids

    panel.reseed.setValue(2)
    panel.track_button.click()
    assert widget.controller.is_running and not panel.track_button.isEnabled()
    qtbot.waitUntil(lambda: not widget.controller.is_running, timeout=240_000)
    result = panel.job.result
    assert result is not None and "tracks" in panel.summary.text()
    assert out.data[0].any()
    np.testing.assert_array_equal(out.data > 0, result.labels > 0)
    widget.controller.undo()  # the whole run is one undo step
    settle(widget.controller)
    assert not out.data.any()
    panel.export(str(tmp_path))
    assert (tmp_path / "res_track.txt").exists()
    geff.validate_structure(str(tmp_path / "lineage.geff"))


def test_track_all_shows_progress_per_frame_and_a_cancel_keeps_finished_frames(open_widget,
                                                                              qtbot):
    image, seeds = _stack(n=6)
    viewer, widget = open_widget(image)
    assert widget.setup_layers()
    out, ctrl = widget.controller.labels_layer, widget.controller
    panel = widget.track_all
    panel.seeds.set_layer(viewer.add_labels(seeds, name="seeds"))
    viewer.dims.set_current_step(0, 0)
    progress, written = [], []
    ctrl.progress.connect(lambda d, t: progress.append((d, t)))
    ctrl.frame_written.connect(written.append)
    ctrl.frame_written.connect(lambda f: ctrl.cancel() if len(written) >= 2 else None)
    panel.track_button.click()
    qtbot.waitUntil(lambda: not ctrl.is_running, timeout=240_000)
    n = len(image)
    assert progress[0] == (0, n) and progress[-1][1] == n
    assert [d for d, _ in progress] == list(range(len(progress)))  # one tick per frame
    assert 2 <= len(written) < n  # cancelled: the frames finished before stay written
    for frame in range(n):
        assert out.data[frame].any() == (frame in written)
