"""Propagation buttons (backward / both / forward), the range, cancel, progress."""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)


class PropagationPanel(QWidget):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.backward = QPushButton("◀ Backward")
        self.both = QPushButton("◀ Both ▶")
        self.forward = QPushButton("Forward ▶")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.from_here = QCheckBox("start at this slice")
        self.from_here.setChecked(True)
        self.from_here.setToolTip(
            "Start at the slice shown (after a correction: only the slices beyond it change); "
            "otherwise start at the first prompted slice"
        )
        self.whole = QCheckBox("whole stack")
        self.whole.setChecked(True)
        self.first, self.last = QSpinBox(), QSpinBox()
        for spin in (self.first, self.last):
            spin.setEnabled(False)
            spin.setMaximum(0)
        self.whole.toggled.connect(
            lambda on: [s.setEnabled(not on) for s in (self.first, self.last)]
        )
        # Targeted re-propagation: after a correction, re-track that object only.
        self.targeted = QCheckBox("selected object only, to its next prompt")
        self.targeted.setToolTip(
            "Re-track only the selected object, from the slice shown to the slice before its "
            "next prompted slice (or the end); other objects' labels stay as they are"
        )
        self.stop_early = QCheckBox("stop after")
        self.stop_early.setChecked(True)
        self.agree_frames = QSpinBox()
        self.agree_frames.setRange(1, 50)
        self.agree_frames.setValue(3)
        self.agree_iou = QDoubleSpinBox()
        self.agree_iou.setRange(0.05, 1.0)
        self.agree_iou.setSingleStep(0.05)
        self.agree_iou.setValue(0.9)
        self.agree_iou.setToolTip("IoU between the new and the old mask that counts as agreeing")
        self.targeted.toggled.connect(self._targeted_toggled)
        self._targeted_toggled(False)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m slices")
        self.progress.setValue(0)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.backward, 0, 0)
        grid.addWidget(self.both, 0, 1)
        grid.addWidget(self.forward, 0, 2)
        rng = QHBoxLayout()
        rng.addWidget(self.whole)
        rng.addWidget(QLabel("from"))
        rng.addWidget(self.first)
        rng.addWidget(QLabel("to"))
        rng.addWidget(self.last)
        grid.addLayout(rng, 1, 0, 1, 3)
        grid.addWidget(self.from_here, 2, 0, 1, 3)
        grid.addWidget(self.targeted, 3, 0, 1, 3)
        agree = QHBoxLayout()
        agree.addWidget(self.stop_early)
        agree.addWidget(self.agree_frames)
        agree.addWidget(QLabel("slices with IoU ≥"))
        agree.addWidget(self.agree_iou)
        agree.addStretch(1)
        grid.addLayout(agree, 4, 0, 1, 3)
        grid.addWidget(self.progress, 5, 0, 1, 2)
        grid.addWidget(self.cancel, 5, 2)
        self.backward.clicked.connect(lambda: self.start("backward"))
        self.both.clicked.connect(lambda: self.start("both"))
        self.forward.clicked.connect(lambda: self.start("forward"))
        self.cancel.clicked.connect(controller.cancel)
        controller.progress.connect(self._on_progress)
        controller.running_changed.connect(self._on_running)
        controller.stopping.connect(self._on_stopping)

    def set_num_frames(self, n: int) -> None:
        for spin in (self.first, self.last):
            spin.setMaximum(max(n - 1, 0))
        self.last.setValue(max(n - 1, 0))
        if not self.controller.is_running:
            self.progress.setMaximum(max(n, 1))

    def _targeted_toggled(self, on: bool) -> None:
        for w in (self.stop_early, self.agree_frames, self.agree_iou):
            w.setEnabled(on)
        self.both.setEnabled(not on and not self.controller.is_running)

    def start(self, direction: str):
        if self.targeted.isChecked() and direction != "both":
            agree = self.agree_iou.value() if self.stop_early.isChecked() else None
            return self.controller.retrack(
                reverse=direction == "backward",
                agree_iou=agree,
                agree_frames=self.agree_frames.value(),
            )
        start = None
        if self.from_here.isChecked():
            try:
                start = self.controller.current_frame()
            except (ValueError, AttributeError):
                start = None  # the controller reports the problem itself below
        if self.whole.isChecked():
            return self.controller.propagate(direction, start=start)
        return self.controller.propagate(direction, self.first.value(), self.last.value(), start)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(min(done, total))

    def _on_stopping(self) -> None:
        self.cancel.setText("Stopping…")
        self.cancel.setEnabled(False)

    def _on_running(self, running: bool) -> None:
        self.cancel.setText("Cancel")
        self.cancel.setEnabled(running)
        for b in (self.backward, self.both, self.forward):
            b.setEnabled(not running)
        if self.targeted.isChecked():
            self.both.setEnabled(False)
