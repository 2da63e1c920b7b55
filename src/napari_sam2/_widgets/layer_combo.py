"""A combo box listing the viewer's layers of one type, kept in sync with it."""

from __future__ import annotations

from qtpy.QtWidgets import QComboBox


class LayerCombo(QComboBox):
    """Layers of ``layer_type``; with ``none_text`` an extra first entry means None."""

    def __init__(self, viewer, layer_type, none_text: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self._items: list = []
        self.viewer, self.layer_type, self.none_text = viewer, layer_type, none_text
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        for ev in (viewer.layers.events.inserted, viewer.layers.events.removed):
            ev.connect(self.refresh)
        self.refresh()

    def layers(self) -> list:
        return [layer for layer in self.viewer.layers if isinstance(layer, self.layer_type)]

    def refresh(self, event=None) -> None:
        """Re-list the layers, keeping the current choice when it still exists."""
        current = self.layer()
        self.blockSignals(True)
        self.clear()
        # Layers are kept in a list, not as item data: Qt may hand back a copy.
        self._items = ([None] if self.none_text is not None else []) + self.layers()
        for layer in self._items:
            self.addItem(self.none_text if layer is None else layer.name)
        self.blockSignals(False)
        self.set_layer(current, emit=False)
        if self.layer() is not current:  # the chosen layer went away, or a first one came
            self.currentIndexChanged.emit(self.currentIndex())

    def layer(self):
        """The chosen layer (None for the 'none' entry or an empty list)."""
        index = self.currentIndex()
        return self._items[index] if 0 <= index < len(self._items) else None

    def set_layer(self, layer, emit: bool = True) -> None:
        found = [i for i, item in enumerate(self._items) if item is layer]
        index = found[0] if found else 0
        if not emit:
            self.blockSignals(True)
        self.setCurrentIndex(index)
        self.blockSignals(False)
        if emit:
            self.currentIndexChanged.emit(index)
