"""User-facing messages as napari notifications, never console tracebacks."""

from __future__ import annotations

import functools
import logging

log = logging.getLogger("napari_sam2")


def error(message: str) -> None:
    from napari.utils.notifications import show_error

    log.error(message)
    show_error(message)


def warning(message: str) -> None:
    from napari.utils.notifications import show_warning

    show_warning(message)


def info(message: str) -> None:
    from napari.utils.notifications import show_info

    show_info(message)


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
