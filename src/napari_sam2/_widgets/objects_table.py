"""The object list: label id, colour swatch, prompted slices, delete button."""

from __future__ import annotations

from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class ObjectsTable(QWidget):
    """Lists the controller's objects; clicking a row selects that label."""

    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["id", "colour", "prompted slices", ""])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setColumnWidth(0, 40)
        self.table.setColumnWidth(1, 55)
        self.table.setColumnWidth(2, 130)
        self.table.setMinimumHeight(110)
        self.table.cellClicked.connect(self._select_row)
        self.new_button = QPushButton("New object")
        self.new_button.setToolTip("Select an unused label id: the next prompts start a new object")
        self.new_button.clicked.connect(self.new_object)
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self._undo_delete)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.undo_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        controller.objects_changed.connect(self.refresh)

    def refresh(self) -> None:
        """Rebuild the rows from the controller."""
        objects = self.controller.objects()
        self.table.setRowCount(len(objects))
        for row, (obj_id, rgba, frames) in enumerate(objects):
            self.table.setItem(row, 0, QTableWidgetItem(str(obj_id)))
            swatch = QTableWidgetItem()
            if rgba:
                swatch.setBackground(QColor.fromRgbF(*[float(c) for c in rgba[:3]]))
            self.table.setItem(row, 1, swatch)
            self.table.setItem(row, 2, QTableWidgetItem(_ranges(frames)))
            delete = QPushButton("Delete")
            delete.setToolTip(f"Delete object {obj_id}: its labels and prompts")
            delete.clicked.connect(lambda _=False, o=obj_id: self.delete(o))
            self.table.setCellWidget(row, 3, delete)

    def delete(self, obj_id: int) -> None:
        self.controller.delete_object(obj_id)
        self.undo_button.setEnabled(self.controller.can_undo_delete)

    def _undo_delete(self) -> None:
        self.controller.undo_delete()
        self.undo_button.setEnabled(False)

    def new_object(self) -> None:
        if self.controller.labels_layer is not None:
            self.controller.labels_layer.selected_label = self.controller.new_object_id()

    def _select_row(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None and self.controller.labels_layer is not None:
            self.controller.labels_layer.selected_label = int(item.text())


def _ranges(frames: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    out, i = [], 0
    while i < len(frames):
        j = i
        while j + 1 < len(frames) and frames[j + 1] == frames[j] + 1:
            j += 1
        out.append(str(frames[i]) if i == j else f"{frames[i]}-{frames[j]}")
        i = j + 1
    return ", ".join(out)
