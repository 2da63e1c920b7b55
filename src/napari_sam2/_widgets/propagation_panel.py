"""Propagation buttons (backward / both / forward), the range, cancel, progress."""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
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
        grid.addWidget(self.progress, 3, 0, 1, 2)
        grid.addWidget(self.cancel, 3, 2)
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

    def start(self, direction: str):
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
