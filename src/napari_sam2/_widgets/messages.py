"""The dock's message line: the plugin's last error or warning, in full.

napari's notification toasts show one elided line; a message that names the
problem and the fix needs more. Every notification the plugin sends (origin
``napari-sam2``, see ``_napari/notify.py``) is also shown here, word-wrapped
and selectable, and the toast itself is expanded to its full text.
"""

from __future__ import annotations

from napari.utils.notifications import NotificationSeverity, notification_manager
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QApplication, QLabel, QWidget

from napari_sam2._napari.notify import SOURCE


class MessageLine(QLabel):
    """A word-wrapped label following the plugin's warnings and errors."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.setVisible(False)
        notification_manager.notification_ready.connect(self._on_notification)
        self.destroyed.connect(self._disconnect)

    def _disconnect(self, *_) -> None:
        try:
            notification_manager.notification_ready.disconnect(self._on_notification)
        except (TypeError, ValueError, RuntimeError):
            pass

    def _on_notification(self, event) -> None:
        note = getattr(event, "value", event)
        if getattr(note, "origin", None) != SOURCE:
            return
        if note.severity < NotificationSeverity.WARNING:
            return
        try:
            color = "#ff6b6b" if note.severity >= NotificationSeverity.ERROR else "#f0c000"
            self.setStyleSheet(f"color: {color};")
            self.setText(str(note.message))
            self.setVisible(True)
            QTimer.singleShot(0, lambda: expand_toasts(str(note.message)))
        except RuntimeError:  # the dock was closed; its label is gone
            self._disconnect()


def expand_toasts(message: str) -> int:
    """Expand napari's notification toasts showing ``message``; how many were."""
    try:
        from napari._qt.dialogs.qt_notification import NapariQtNotification
    except ImportError:  # napari moved it: the dock's message line still has the text
        return 0
    n = 0
    for widget in QApplication.topLevelWidgets() + [
        w for top in QApplication.topLevelWidgets() for w in top.findChildren(NapariQtNotification)
    ]:
        if isinstance(widget, NapariQtNotification) and not widget.property("expanded"):
            if getattr(widget, "message", None) is not None and widget.message.text() == message:
                widget.expand()
                n += 1
    return n
