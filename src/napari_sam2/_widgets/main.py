"""The dock widget: pick layers and axes, prompt, propagate, manage objects."""

from __future__ import annotations

from napari.layers import Image, Labels, Points, Shapes
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_sam2._napari import notify
from napari_sam2._napari.controller import Sam2Controller
from napari_sam2._napari.keys import bind_keys
from napari_sam2._napari.prompts import (
    prepare_points_layer,
    prepare_shapes_layer,
    set_current_object,
)
from napari_sam2._widgets.automask_panel import AutomaskPanel
from napari_sam2._widgets.confidence_timeline import ConfidenceTimeline
from napari_sam2._widgets.layer_combo import LayerCombo
from napari_sam2._widgets.messages import MessageLine
from napari_sam2._widgets.objects_table import ObjectsTable
from napari_sam2._widgets.propagation_panel import PropagationPanel
from napari_sam2._widgets.settings import ModelSettings
from napari_sam2._widgets.track_all_panel import TrackAllPanel

NEW = "(new)"
SETTLE_MS = 300  # a slice shown this long is prepared for a click


class Sam2Widget(QWidget):
    """Segment Anything 2 for napari: click, segment, propagate through z or t."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        # napari hands plugin widgets a PublicOnlyProxy of the viewer; its layers
        # would be proxies too, and identity checks (`layer is ...`) would fail.
        napari_viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
        self.viewer = napari_viewer
        self.controller = Sam2Controller(napari_viewer)
        self._bound: set[int] = set()

        self.image = LayerCombo(napari_viewer, Image)
        self.frame_axis = QComboBox()
        self.channel_axis = QComboBox()
        self.channel = QSpinBox()
        self.labels = LayerCombo(napari_viewer, Labels, NEW)
        self.points = LayerCombo(napari_viewer, Points, NEW)
        self.boxes = LayerCombo(napari_viewer, Shapes, NEW)
        self.mask_layer = LayerCombo(napari_viewer, Labels, "(none)")
        self.use_mask = QPushButton("Use as mask here")
        self.use_mask.setToolTip(
            "The mask layer's selected label on this slice becomes a mask prompt"
        )
        self.settings = ModelSettings()
        self.start_button = QPushButton("Set up layers")
        self.start_button.setToolTip("Create the output Labels, Points and Shapes layers if absent")
        self.candidate_button = QPushButton("Next candidate (c)")
        self.save_button = QPushButton("Save prompts…")
        self.save_button.setToolTip("Write the points and boxes to a .json/.csv prompts file "
                                    "(the format of `napari-sam2 segment --prompts`)")
        self.load_button = QPushButton("Load prompts…")
        self.load_button.setToolTip("Add the points and boxes of a .json/.csv prompts file")
        self.propagation = PropagationPanel(self.controller)
        self.automask = AutomaskPanel(self.controller)
        self.objects = ObjectsTable(self.controller)
        self.timeline = ConfidenceTimeline(self.controller)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.message = MessageLine(self)  # the last error or warning, in full
        self.track_all = TrackAllPanel(self.controller, napari_viewer)
        self._build_layout()

        self.image.currentIndexChanged.connect(self._image_changed)
        for combo in (self.frame_axis, self.channel_axis):
            combo.currentIndexChanged.connect(self._axes_changed)
        self.channel.valueChanged.connect(self._sync_controller)
        for combo in (self.labels, self.points, self.boxes):
            combo.currentIndexChanged.connect(self._layers_changed)
        self.start_button.clicked.connect(self.setup_layers)
        self.candidate_button.clicked.connect(lambda: self.controller.cycle_candidate())
        self.save_button.clicked.connect(lambda: self.save_prompts())
        self.load_button.clicked.connect(lambda: self.load_prompts())
        self.use_mask.clicked.connect(self._use_mask)
        self.controller.running_changed.connect(self._on_running)
        self.controller.stopping.connect(
            lambda: self.status.setText("stopping… (after the slice being computed)")
        )
        for combo in (self.image, self.frame_axis, self.channel_axis, self.labels):
            combo.currentIndexChanged.connect(self.timeline.schedule)
        # Once the viewer rests on a slice, get it ready for a click (see prefetch.py).
        self._settled = QTimer(self)
        self._settled.setSingleShot(True)
        self._settled.setInterval(SETTLE_MS)
        self._settled.timeout.connect(self.controller.prefetcher.request)
        napari_viewer.dims.events.current_step.connect(self._slice_changed)
        self._image_changed()

    def _build_layout(self) -> None:
        data = QGroupBox("Data")
        form = QFormLayout(data)
        form.addRow("image", self.image)
        form.addRow("frames along", self.frame_axis)
        chan = QHBoxLayout()
        chan.addWidget(self.channel_axis)
        chan.addWidget(QLabel("channel"))
        chan.addWidget(self.channel)
        form.addRow("channel axis", chan)
        form.addRow("output labels", self.labels)
        prompts = QGroupBox("Prompts")
        pform = QFormLayout(prompts)
        pform.addRow("points (t: +/-)", self.points)
        pform.addRow("boxes", self.boxes)
        mask_row = QHBoxLayout()
        mask_row.addWidget(self.mask_layer)
        mask_row.addWidget(self.use_mask)
        pform.addRow("mask layer", mask_row)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.candidate_button)
        pform.addRow(row)
        files = QHBoxLayout()
        files.addWidget(self.save_button)
        files.addWidget(self.load_button)
        pform.addRow(files)
        model = QGroupBox("Model")
        QVBoxLayout(model).addWidget(self.settings)
        prop = QGroupBox("Propagate")
        QVBoxLayout(prop).addWidget(self.propagation)
        objs = QGroupBox("Objects")
        QVBoxLayout(objs).addWidget(self.objects)
        auto = QGroupBox("Segment all")
        QVBoxLayout(auto).addWidget(self.automask)
        conf = QGroupBox("Confidence (click: go to frame)")
        QVBoxLayout(conf).addWidget(self.timeline)
        # Everything scrolls: on a 1366 x 768 laptop the dock is shorter than its content.
        content = QWidget()
        layout = QVBoxLayout(content)
        for box in (data, model, prompts, auto, prop, self.track_all, objs, conf):
            layout.addWidget(box)
        layout.addWidget(self.status)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        self.scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        self.boxes_by_title = {
            b.title(): b for b in (data, model, prompts, auto, prop, self.track_all, objs, conf)
        }
        for combo in (self.settings.preset, self.settings.device, self.settings.image_size):
            combo.currentIndexChanged.connect(self._sync_controller)
        self.settings.checkpoint.editingFinished.connect(self._sync_controller)
        self.settings.overwrite.toggled.connect(self._sync_controller)
        self.settings.non_overlap.toggled.connect(self._sync_controller)
        self.settings.long_stack.toggled.connect(self._sync_controller)
        self.settings.pathways.valueChanged.connect(self._sync_controller)
        self.settings.iou_threshold.valueChanged.connect(self._sync_controller)
        self.settings.uncertainty.valueChanged.connect(self._sync_controller)
        self.settings.object_aware.toggled.connect(self._sync_controller)
        self.settings.bfloat16.toggled.connect(self._sync_controller)
        self.settings.fill_holes.valueChanged.connect(self._sync_controller)

    # -- choices -> controller ---------------------------------------------------
    def _image_changed(self, *_):
        image = self.image.layer()
        # Each image has its own prompt and output layers: show (or make) those.
        mine = self.controller.switch_image(image)
        layers = (mine.labels, mine.points, mine.shapes)
        for combo, layer in zip((self.labels, self.points, self.boxes), layers):
            combo.set_layer(layer, emit=False)
        self.frame_axis.blockSignals(True)
        self.channel_axis.blockSignals(True)
        self.frame_axis.clear()
        self.channel_axis.clear()
        self.channel_axis.addItem("none", None)
        if image is not None:
            ndim = image.ndim - 2
            names = _axis_names(image)
            for a in range(ndim):
                self.frame_axis.addItem(names[a], a)
                self.channel_axis.addItem(names[a], a)
            if ndim == 0:
                self.frame_axis.addItem("single image", None)
            if image.rgb:
                self.channel_axis.setItemText(0, "RGB (all)")
        self.frame_axis.blockSignals(False)
        self.channel_axis.blockSignals(False)
        self._axes_changed()

    def _axes_changed(self, *_):
        image = self.image.layer()
        axis = self.channel_axis.currentData()
        self.channel.setMaximum(
            max(image.data.shape[axis] - 1, 0) if image is not None and axis is not None else 2
        )
        self._sync_controller()
        self._drop_mismatched_layers()

    def _drop_mismatched_layers(self) -> None:
        """Layers made for another image or channel layout go back to '(new)'."""
        try:
            shape = self.controller.base_layout().labels_shape
        except (ValueError, AttributeError):
            return
        lab = self.labels.layer()
        if lab is not None and lab.data.shape != shape:
            self.labels.set_layer(None, emit=False)
        for combo in (self.points, self.boxes):
            layer = combo.layer()
            if layer is not None and layer.ndim != len(shape):
                combo.set_layer(None, emit=False)
        self._sync_controller()

    def _layers_changed(self, *_):
        self._sync_controller()

    def _sync_controller(self, *_):
        c = self.controller
        c.image_layer = self.image.layer()
        c.frame_axis = self.frame_axis.currentData()
        c.channel_axis = self.channel_axis.currentData()
        use_channel = c.channel_axis is not None or (
            c.image_layer is not None and c.image_layer.rgb and self.channel.value() > 0
        )
        c.channel = self.channel.value() if use_channel else None
        c.labels_layer = self.labels.layer()
        c.points_layer = self.points.layer()
        c.shapes_layer = self.boxes.layer()
        c.apply_settings(self.settings.value())
        self._connect_layers()
        try:
            self.propagation.set_num_frames(
                c.base_layout().num_frames
                if c.frame_axis is None
                else c.image_layer.data.shape[c.frame_axis]
            )
        except (ValueError, AttributeError, IndexError):
            pass

    # -- layers ------------------------------------------------------------------
    def setup_layers(self) -> bool:
        """Create missing output/prompt layers and wire them; select the points layer."""
        try:
            self._sync_controller()
            self.controller.ensure_layers()
        except (ValueError, AttributeError) as exc:
            notify.error(f"SAM 2: {exc}")
            return False
        c = self.controller
        self.labels.set_layer(c.labels_layer, emit=False)
        self.points.set_layer(c.points_layer, emit=False)
        self.boxes.set_layer(c.shapes_layer, emit=False)
        self._connect_layers()
        self.viewer.layers.selection.active = c.points_layer
        c.points_layer.mode = "add"
        self.objects.refresh()
        c.preload_model()  # in the background: the first click need not wait for it
        self._slice_changed()
        return True

    def _connect_layers(self) -> None:
        """Give prompt layers their features, events and keys (once per layer)."""
        c = self.controller
        obj = c.current_object
        for layer in (c.points_layer, c.shapes_layer, c.labels_layer):
            if layer is None or id(layer) in self._bound:
                continue
            self._bound.add(id(layer))
            if isinstance(layer, Points):
                prepare_points_layer(layer, obj)
                layer.events.data.connect(self._prompts_edited)
            elif isinstance(layer, Shapes):
                prepare_shapes_layer(layer, obj)
                layer.events.data.connect(self._prompts_edited)
            elif isinstance(layer, Labels):
                layer.events.selected_label.connect(self._label_selected)
            bind_keys(c, layer)

    def _prompts_edited(self, event=None) -> None:
        layer = getattr(event, "source", None)
        if layer is not None and layer not in (
            self.controller.points_layer,
            self.controller.shapes_layer,
        ):
            return  # a layer we wired earlier but the user has since swapped out
        self.controller.on_prompts_edited(event)

    def _label_selected(self, event=None) -> None:
        c = self.controller
        set_current_object(c.current_object, c.points_layer, c.shapes_layer)
        self._slice_changed()  # another object: its memories condition the slice

    def _slice_changed(self, event=None) -> None:
        try:
            self._settled.start()
        except RuntimeError:  # the widget was closed; its timer is gone
            pass

    def save_prompts(self, path: str | None = None) -> None:
        """Save the prompts to ``path`` (asked for in a dialog when None)."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save prompts", "prompts.json", "Prompts (*.json *.csv)"
            )
        if path:
            self._sync_controller()
            self.controller.save_prompts(path)

    def load_prompts(self, path: str | None = None) -> None:
        """Load prompts from ``path`` (asked for in a dialog when None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Load prompts", "", "Prompts (*.json *.csv)"
            )
        if path:
            if not self.setup_layers():
                return
            self.controller.load_prompts(path)

    def _use_mask(self) -> None:
        layer = self.mask_layer.layer()
        if layer is None:
            notify.warning("choose a mask layer first")
            return
        self.controller.add_mask_prompt(layer)

    def _on_running(self, running: bool) -> None:
        self.status.setText(
            "propagating… (the viewer stays usable; Cancel stops after this slice)"
            if running
            else ""
        )


def _axis_names(image) -> list[str]:
    """Axis names for the combos: the layer's axis labels where set (t, z...), else
    napari's own slider naming (-4, -3...) with the axis number and length."""
    ndim = image.ndim - 2
    shape = image.data.shape if not image.multiscale else image.data[0].shape
    labels = [str(x) for x in (getattr(image, "axis_labels", ()) or ())][:ndim]
    names = []
    for a in range(ndim):
        label = labels[a] if a < len(labels) else ""
        if label and not label.lstrip("-").isdigit():
            names.append(f"{label} ({shape[a]})")
        elif label:
            names.append(f"slider {label} (axis {a}, {shape[a]})")
        else:
            names.append(f"axis {a} ({shape[a]})")
    return names
