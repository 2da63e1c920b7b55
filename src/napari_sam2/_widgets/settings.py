"""Model settings: preset, checkpoint, device; input size and precision under 'advanced'."""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_sam2._napari.settings import PluginSettings
from napari_sam2.engine.device import DEVICE_CHOICES
from napari_sam2.engine.memory_tree import MemoryTree

IMAGE_SIZES = (1024, 512, 256)
OWN_SIZE = "model's own"  # the preset's input size: 1024, the demo model's 256


class ModelSettings(QWidget):
    """Emits nothing itself; :meth:`value` reads the current choice as one
    :class:`PluginSettings`, :meth:`show_settings` sets the controls from one."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        from napari_sam2.model.config import list_presets

        self.preset = QComboBox()
        for name in list_presets():
            self.preset.addItem(name, name)
        self.preset.addItem("demo (small, trained on synthetic cells; offline)", "demo")
        self.preset.setToolTip(
            "Official SAM 2 / 2.1 checkpoints are downloaded once. The demo model ships "
            "with the plugin: it knows only synthetic cells, for trying the plugin out"
        )
        self.checkpoint = QLineEdit()
        self.checkpoint.setPlaceholderText("weights cache (downloaded once)")
        browse = QPushButton("…")
        browse.setMaximumWidth(30)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.checkpoint)
        row.addWidget(browse)
        self.device = QComboBox()
        self.device.addItems(DEVICE_CHOICES)
        self.advanced = QGroupBox("Advanced")
        self.advanced.setCheckable(True)
        self.advanced.setChecked(False)  # collapsed by default
        self.image_size = QComboBox()
        self.image_size.addItems([OWN_SIZE, *(str(s) for s in IMAGE_SIZES)])
        self.image_size.setToolTip(
            "Model input size. The model's own is 1024 for SAM 2 (256 for the demo model); "
            "smaller is faster and coarser"
        )
        self.bfloat16 = QCheckBox("bfloat16 (fast mode)")
        self.bfloat16.setToolTip(
            "Compute in bfloat16 on a CUDA GPU (up to about 2x faster for large) or a CPU "
            "with bfloat16 units (AVX-512 BF16, AMX, Apple M2+; up to about 3x): masks "
            "differ slightly from float32's. Ignored on other CPUs and MPS"
        )
        self.overwrite = QCheckBox("overwrite other objects' labels")
        self.fill_holes = QSpinBox()
        self.fill_holes.setRange(0, 10_000)
        self.fill_holes.setSuffix(" px")
        self.fill_holes.setToolTip(
            "Fill holes in masks up to this area (pixels of the 256 x 256 model mask; "
            "SAM 2's own default on GPUs is 8). 0: off"
        )
        self.long_stack = QCheckBox("long-stack mode (memory tree)")
        self.long_stack.setToolTip(
            "SAM2Long: keep several hypotheses per object and answer with the best path "
            "through the stack; one wrong slice no longer derails the rest. Slower"
        )
        self.pathways = QSpinBox()
        self.pathways.setRange(1, 8)
        self.pathways.setValue(3)
        self.pathways.setToolTip("Hypotheses kept per object in long-stack mode")
        self.iou_threshold = QDoubleSpinBox()
        self.iou_threshold.setRange(0.0, 0.99)
        self.iou_threshold.setSingleStep(0.05)
        self.iou_threshold.setValue(0.1)
        self.iou_threshold.setToolTip(
            "Long-stack mode: earlier slices are remembered only where the mask's predicted "
            "IoU is above this and the object is present"
        )
        self.uncertainty = QDoubleSpinBox()
        self.uncertainty.setRange(0.0, 20.0)
        self.uncertainty.setValue(2.0)
        self.uncertainty.setToolTip(
            "Long-stack mode: while every hypothesis's |object score| is at most this, "
            "differing masks are kept"
        )
        self.object_aware = QCheckBox("object-aware memory")
        self.object_aware.setChecked(True)
        self.object_aware.setToolTip(
            "Long-stack mode (SAM2Long): remember only slices where the object is present "
            "and confident, so it is found again after a gap. Off: remember the last slices "
            "as plain SAM 2 does, so a cell that leaves the field or ends in z stays gone"
        )
        self.non_overlap = QCheckBox("objects never overlap")
        self.non_overlap.setToolTip(
            "Where masks overlap, the most confident object keeps the pixel"
        )
        adv = QFormLayout(self.advanced)
        adv.addRow("input size", self.image_size)
        adv.addRow("fill holes", self.fill_holes)
        adv.addRow(self.non_overlap)
        adv.addRow(self.long_stack)
        adv.addRow("pathways", self.pathways)
        adv.addRow("IoU threshold", self.iou_threshold)
        adv.addRow("uncertainty", self.uncertainty)
        adv.addRow(self.object_aware)
        self.long_stack.toggled.connect(lambda _: self._show_advanced(self.advanced.isChecked()))
        adv.addRow(self.bfloat16)
        adv.addRow(self.overwrite)
        self.advanced.toggled.connect(self._show_advanced)
        self._show_advanced(False)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("model", self.preset)
        form.addRow("checkpoint", row)
        form.addRow("device", self.device)
        form.addRow(self.advanced)

    def _show_advanced(self, on: bool) -> None:
        form = self.advanced.layout()
        tree = (self.pathways, self.iou_threshold, self.uncertainty, self.object_aware)
        for field in (
            self.image_size,
            self.fill_holes,
            self.non_overlap,
            self.long_stack,
            *tree,
            self.bfloat16,
            self.overwrite,
        ):
            # The tree's own settings show only while long-stack mode is on.
            visible = on and (field not in tree or self.long_stack.isChecked())
            field.setVisible(visible)
            label = form.labelForField(field)
            if label is not None:
                label.setVisible(visible)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "SAM 2 checkpoint", "", "Checkpoints (*.pt *.pth)"
        )
        if path:
            self.checkpoint.setText(path)

    def value(self) -> PluginSettings:
        """The settings the controls show now."""
        return PluginSettings(
            preset=self.preset.currentData() or self.preset.currentText(),
            checkpoint=self.checkpoint.text().strip() or None,
            device=self.device.currentText(),
            image_size=None if self.image_size.currentIndex() == 0 else int(
                self.image_size.currentText()
            ),
            bfloat16=self.bfloat16.isChecked(),
            overwrite=self.overwrite.isChecked(),
            fill_hole_area=self.fill_holes.value(),
            non_overlap=self.non_overlap.isChecked(),
            memory_tree=self._memory_tree(),
        )

    def _memory_tree(self) -> MemoryTree | None:
        if not self.long_stack.isChecked():
            return None
        return MemoryTree(
            pathways=self.pathways.value(),
            iou_threshold=self.iou_threshold.value(),
            uncertainty=self.uncertainty.value(),
            object_aware=self.object_aware.isChecked(),
        )

    def show_settings(self, settings: PluginSettings) -> None:
        """Set the controls to ``settings`` (choices a control does not offer are left)."""
        index = self.preset.findData(settings.preset)
        if index >= 0:
            self.preset.setCurrentIndex(index)
        self.checkpoint.setText(settings.checkpoint or "")
        self.device.setCurrentText(settings.device)
        self.image_size.setCurrentText(
            OWN_SIZE if settings.image_size is None else str(settings.image_size)
        )
        self.bfloat16.setChecked(settings.bfloat16)
        self.overwrite.setChecked(settings.overwrite)
        self.fill_holes.setValue(settings.fill_hole_area)
        self.non_overlap.setChecked(settings.non_overlap)
        self.long_stack.setChecked(settings.memory_tree is not None)
        if settings.memory_tree is not None:
            self.pathways.setValue(settings.memory_tree.pathways)
            self.iou_threshold.setValue(settings.memory_tree.iou_threshold)
            self.uncertainty.setValue(settings.memory_tree.uncertainty)
            self.object_aware.setChecked(settings.memory_tree.object_aware)
        self.checkpoint.editingFinished.emit()  # setText alone does not tell listeners
