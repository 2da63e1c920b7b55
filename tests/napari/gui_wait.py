"""Waiting in GUI tests for the model steps that run in worker threads."""

from __future__ import annotations

import time


def settle(controller, timeout_s: float = 120.0) -> None:
    """Process Qt events until the controller has no model step pending or running."""
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout_s
    while controller.busy:
        if time.monotonic() > end:
            raise TimeoutError(f"the plugin was still busy after {timeout_s:g} s")
        QApplication.processEvents()
        time.sleep(0.005)
    QApplication.processEvents()
