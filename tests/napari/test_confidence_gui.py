"""The confidence timeline in the dock, in a real viewer: drawn as results arrive,
low-confidence frames marked, a click on the plot moves the slider."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPointF, Qt
from tests.napari.test_widget_flow import _click, _wait

from napari_sam2._napari.sample_data import make_timelapse

N = 6


def test_timeline_follows_propagation_and_click_jumps(open_widget, qtbot):
    viewer, widget = open_widget(make_timelapse(N, 128, 3))
    assert widget.setup_layers()
    timeline = widget.timeline
    _click(viewer, widget, 1)
    qtbot.waitUntil(lambda: 1 in timeline.tracks, timeout=10_000)
    assert timeline.tracks[1].frames.tolist() == [1]
    assert timeline.tracks[1].prompted.tolist() == [True]

    seen = []  # what the timeline showed whenever a result was written during the run
    widget.controller.frame_written.connect(
        lambda _f: seen.append(len(timeline.tracks[1].frames)) if 1 in timeline.tracks else None
    )
    widget.propagation.from_here.setChecked(False)
    widget.propagation.both.click()
    _wait(qtbot, widget)
    qtbot.waitUntil(lambda: len(timeline.tracks[1].frames) == N, timeout=10_000)
    assert max(seen) > 1  # redrawn while the run went on, not only at its end
    track = timeline.tracks[1]
    assert track.frames.tolist() == list(range(N))
    assert np.isfinite(track.iou).all() and track.prompted.sum() == 1
    assert len(timeline._items) >= 3  # presence and IoU lines, prompted star
    assert timeline.summary.text()  # names the low-confidence frames, or says none
    assert timeline.low_frames(1) == track.low_frames(timeline.rule)

    # A click on the plot at x = 4 shows frame 4.
    viewer.window._qt_window.show()
    widget.scroll.ensureWidgetVisible(timeline)
    qtbot.waitExposed(timeline.plot)
    vb = timeline.plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(4.0, 0.5))
    pos = timeline.plot.mapFromScene(scene)
    qtbot.mouseClick(timeline.plot.viewport(), Qt.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: viewer.dims.current_step[0] == 4, timeout=5_000)
    assert viewer.dims.current_step[0] == 4
    assert widget.controller.current_frame() == 4
    qtbot.waitUntil(lambda: timeline.cursor.value() == 4, timeout=5_000)
    timeline.go_to(99)  # clamped to the stack
    assert viewer.dims.current_step[0] == N - 1
