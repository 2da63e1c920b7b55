"""The "Track all" box: seeds from a Labels layer, track every object, export the lineage."""

from __future__ import annotations

from napari.layers import Labels
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
)

from napari_sam2._napari import notify
from napari_sam2._napari.seeding import TrackAllJob, seed_from_layer, track_all_from_layer
from napari_sam2._widgets.layer_combo import LayerCombo


class TrackAllPanel(QGroupBox):
    """Seed every label of a layer on this slice, or track them all with re-seeding."""

    def __init__(self, controller, viewer, parent=None) -> None:
        super().__init__("Track all", parent)
        self.controller = controller
        self.job: TrackAllJob | None = None
        self.seeds = LayerCombo(viewer, Labels)
        self.seeds.setToolTip("Labels layer whose labels become objects "
                              "(Cellpose / StarDist output, hand-painted, segment all)")
        self.reseed = QSpinBox()
        self.reseed.setRange(0, 10_000)
        self.reseed.setSpecialValueText("never")
        self.reseed.setToolTip("Read the seeds again every k slices: masks no track covers "
                               "become new objects; two inside an ended track, its daughters")
        self.min_area = QSpinBox()
        self.min_area.setRange(1, 1_000_000)
        self.min_area.setValue(10)
        self.seed_button = QPushButton("Seed from labels layer")
        self.seed_button.setToolTip("Every label on this slice becomes an object (mask prompt)")
        self.track_button = QPushButton("Track all")
        self.track_button.setToolTip("Seed this slice, then track every object to the end, "
                                     "re-seeding as set; one undo step")
        self.export_button = QPushButton("Export lineage…")
        self.export_button.setEnabled(False)
        self.summary = QLabel("")
        form = QFormLayout(self)
        form.addRow("seeds", self.seeds)
        form.addRow("re-seed every", self.reseed)
        form.addRow("min. area (px)", self.min_area)
        row = QHBoxLayout()
        for b in (self.seed_button, self.track_button, self.export_button):
            row.addWidget(b)
        form.addRow(row)
        form.addRow(self.summary)
        self.seed_button.clicked.connect(lambda: self.seed())
        self.track_button.clicked.connect(lambda: self.track())
        self.export_button.clicked.connect(lambda: self.export())
        controller.running_changed.connect(self._on_running)

    def _layer(self):
        layer = self.seeds.layer()
        if layer is None:
            notify.warning("choose a labels layer of seeds first")
        return layer

    def seed(self):
        layer = self._layer()
        return None if layer is None else seed_from_layer(self.controller, layer)

    def track(self) -> TrackAllJob | None:
        layer = self._layer()
        if layer is None:
            return None
        self.summary.setText("tracking…")
        self.job = track_all_from_layer(self.controller, layer, self.reseed.value(),
                                        self.min_area.value(), on_finished=self._finished)
        return self.job

    def _finished(self, job: TrackAllJob) -> None:
        graph = None if job.result is None else job.result.graph
        self.export_button.setEnabled(graph is not None and bool(graph.track_ids))
        self.summary.setText("" if graph is None else
                             f"{len(graph.table())} tracks, {len(graph.divisions())} divisions")

    def export(self, folder: str | None = None) -> None:
        """Write the last run as a CTC folder plus ``lineage.geff`` in ``folder``."""
        if self.job is None or self.job.result is None:
            return
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Export lineage (CTC + GEFF)")
        if folder:
            from pathlib import Path

            from napari_sam2.export_lineage import write_geff, write_lineage_ctc

            result = self.job.result
            write_lineage_ctc(folder, result.labels, result.graph)
            write_geff(Path(folder) / "lineage.geff", result.graph)
            notify.info(f"wrote res_track.txt, masks and lineage.geff to {folder}")

    def _on_running(self, running: bool) -> None:
        for b in (self.seed_button, self.track_button):
            b.setEnabled(not running)
