"""The confidence timeline: each object's presence and predicted IoU along the frames.

Drawn with pyqtgraph in the dock. Solid lines: the model's belief that the
object is there (sigmoid of the object score); dashed: its predicted IoU of
the mask it shows. Yellow crosses mark low-confidence frames (where tracking
likely drifted: the place for the next click), stars the prompted frames, a
vertical line the slice shown. A click on the plot moves napari's slider to
that frame. It redraws, at most a few times a second, as propagation results
arrive.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from napari_sam2._napari.confidence import (
    frame_count,
    jump_to_frame,
    object_color,
    shown_frame,
    timeline_tracks,
)
from napari_sam2.engine.confidence import ConfidenceTrack, LowConfidence

REDRAW_MS = 200  # results arriving faster than this are drawn together
PLOT_HEIGHT = 140
LOW_COLOR = (255, 200, 0)  # yellow: apart from most label colours


class ConfidenceTimeline(QWidget):
    """Per-object confidence along the frames; click to go to a frame."""

    def __init__(self, controller, parent=None, rule: LowConfidence | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.rule = rule or LowConfidence()
        self.tracks: dict[int, ConfidenceTrack] = {}
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(PLOT_HEIGHT)
        self.plot.setMaximumHeight(PLOT_HEIGHT + 40)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setYRange(0, 1.05, padding=0)
        self.plot.getAxis("left").setTicks([[(0, "0"), (0.5, ".5"), (1, "1")]])
        self.plot.setLabel("bottom", "frame")
        self.plot.setToolTip(
            "solid: object present (score); dashed: predicted IoU; "
            "yellow x: low confidence; star: prompted. Click to go to that frame."
        )
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((255, 255, 255, 120)))
        self.plot.addItem(self.cursor)
        self.summary = QLabel("no tracked objects yet")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        layout.addWidget(self.summary)
        self._items: list = []
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self.refresh)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        controller.frame_written.connect(self.schedule)
        controller.objects_changed.connect(self.schedule)
        controller.running_changed.connect(self.schedule)
        controller.viewer.dims.events.current_step.connect(self._move_cursor)

    # -- drawing -----------------------------------------------------------------
    def schedule(self, *_) -> None:
        """Redraw soon (many calls in a burst make one redraw)."""
        try:
            if not self._redraw.isActive():
                self._redraw.start()
        except RuntimeError:  # the widget was closed
            pass

    def refresh(self) -> None:
        """Read the session's confidence and draw it now."""
        self.tracks = timeline_tracks(self.controller)
        for item in self._items:
            self.plot.removeItem(item)
        self._items = []
        n = frame_count(self.controller)
        self.plot.setXRange(-0.5, max(n, 1) - 0.5, padding=0.02)
        lows = []
        current = self.controller.current_object if self.controller.labels_layer else None
        for obj_id, track in sorted(self.tracks.items()):
            if track.frames.size == 0:
                continue
            color = object_color(self.controller, obj_id)
            width = 3 if obj_id == current else 1.5
            self._line(track.frames, track.presence, color, width, Qt.SolidLine)
            known = np.isfinite(track.iou)
            self._line(track.frames[known], np.clip(track.iou[known], 0, 1), color, width,
                       Qt.DashLine)
            low = track.low_mask(self.rule)
            if low.any():
                lows.append(f"{obj_id}: {_frames_text(track.frames[low])}")
                self._scatter(track.frames[low], track.presence[low], "x", LOW_COLOR, 11)
            if track.prompted.any():
                self._scatter(track.frames[track.prompted], track.presence[track.prompted], "star",
                              color, 12)
        self._move_cursor()
        if not self.tracks:
            self.summary.setText("no tracked objects yet")
        elif lows:
            self.summary.setText("low confidence (object: frames): " + "; ".join(lows))
        else:
            self.summary.setText("no low-confidence frames")

    def _line(self, x, y, color, width, style) -> None:
        if len(x) == 0:
            return
        item = pg.PlotDataItem(x, y, pen=pg.mkPen(color, width=width, style=style))
        self.plot.addItem(item)
        self._items.append(item)

    def _scatter(self, x, y, symbol, color, size) -> None:
        item = pg.ScatterPlotItem(x, y, symbol=symbol, size=size, brush=pg.mkBrush(color),
                                  pen=pg.mkPen(color))
        self.plot.addItem(item)
        self._items.append(item)

    def _move_cursor(self, *_) -> None:
        frame = shown_frame(self.controller)
        try:
            self.cursor.setVisible(frame is not None)
            if frame is not None:
                self.cursor.setValue(frame)
        except RuntimeError:  # the dock was closed; its plot is gone
            pass

    # -- going to a frame --------------------------------------------------------
    def _on_click(self, event) -> None:
        if event.button() != Qt.LeftButton:
            return
        vb = self.plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        self.go_to(round(vb.mapSceneToView(event.scenePos()).x()))

    def go_to(self, frame: int) -> None:
        """Show ``frame`` in the viewer (clamped to the stack)."""
        jump_to_frame(self.controller, frame)

    def low_frames(self, obj_id: int) -> list[int]:
        """The low-confidence frames drawn for ``obj_id``."""
        track = self.tracks.get(obj_id)
        return [] if track is None else track.low_frames(self.rule)


def _frames_text(frames: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(f)) for f in frames[:limit])
    return shown + (f" … (+{len(frames) - limit})" if len(frames) > limit else "")
