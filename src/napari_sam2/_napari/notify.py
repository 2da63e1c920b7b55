"""User-facing messages as napari notifications, never console tracebacks."""

from __future__ import annotations

import functools
import logging

log = logging.getLogger("napari_sam2")
SOURCE = "napari-sam2"  # notifications with this origin are shown in full in the dock


def _show(message: str, severity: str) -> None:
    from napari.utils.notifications import Notification, notification_manager

    notification_manager.dispatch(Notification(message, severity=severity, origin=SOURCE))


def error(message: str) -> None:
    log.error(message)
    _show(message, "error")


def warning(message: str) -> None:
    _show(message, "warning")


def info(message: str) -> None:
    _show(message, "info")


def reports_errors(func):
    """Turn ``ValueError``/``RuntimeError``/``OSError`` into an error notification
    (and a ``None`` result): bad input is the user's to fix, not a crash."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, RuntimeError, OSError, KeyError, IndexError) as exc:
            error(f"SAM 2: {exc}")
            return None

    return wrapper
