"""The "Segment all on this slice" button and the generator's main settings."""

from __future__ import annotations

from dataclasses import replace

from qtpy.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QPushButton, QSpinBox, QWidget

from napari_sam2._napari.automask import PLUGIN_SETTINGS, SegmentAllRun, segment_all
from napari_sam2.engine.automask import AutoMaskSettings


def _spin(low: float, high: float, value: float, step: float, decimals: int | None = None):
    spin = QSpinBox() if decimals is None else QDoubleSpinBox()
    if decimals is not None:
        spin.setDecimals(decimals)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    return spin


class AutomaskPanel(QWidget):
    """Runs the automatic mask generator on the slice shown; one undo step."""

    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.run: SegmentAllRun | None = None
        s = PLUGIN_SETTINGS
        self.points = _spin(2, 128, s.points_per_side, 4)
        self.points.setToolTip("grid of N x N clicks; more finds smaller objects, slower")
        self.iou = _spin(0.0, 1.0, s.pred_iou_thresh, 0.05, 2)
        self.iou.setToolTip("keep masks whose predicted IoU is above this")
        self.stability = _spin(0.0, 1.0, s.stability_score_thresh, 0.01, 2)
        self.stability.setToolTip("keep masks at least this stable under logit +-1")
        self.min_area = _spin(0, 100_000, s.min_mask_region_area, 10)
        self.min_area.setToolTip("fill holes and drop islands smaller than this (pixels)")
        self.order = QComboBox()
        self.order.addItems(["area", "iou"])
        self.order.setToolTip("overlaps: smaller masks on top (area) or most confident first")
        self.button = QPushButton("Segment all on this slice")
        self.button.setToolTip("Find every object on the slice shown and add them as new labels "
                               "(one undo step; existing labels kept unless overwrite is on)")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("points per side", self.points)
        form.addRow("predicted IoU >", self.iou)
        form.addRow("stability >=", self.stability)
        form.addRow("min region area", self.min_area)
        form.addRow("overlaps", self.order)
        form.addRow(self.button)
        self.button.clicked.connect(lambda: self.start())

    def value(self) -> AutoMaskSettings:
        """The generator settings chosen in the panel."""
        return replace(PLUGIN_SETTINGS, points_per_side=self.points.value(),
                       pred_iou_thresh=round(self.iou.value(), 4),
                       stability_score_thresh=round(self.stability.value(), 4),
                       min_mask_region_area=self.min_area.value())

    def start(self) -> SegmentAllRun | None:
        """Segment the slice shown (in a worker); the button waits until it is written."""
        self.button.setEnabled(False)
        self.run = segment_all(self.controller, self.value(), self.order.currentText(),
                               on_done=lambda _count: self.button.setEnabled(True))
        if self.run is None:  # unusable input, already reported
            self.button.setEnabled(True)
        return self.run
