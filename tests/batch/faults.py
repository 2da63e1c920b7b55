"""Faults injected into a cluster's workers by the batch tests (never shipped)."""

from __future__ import annotations

import os

from distributed.diagnostics.plugin import WorkerPlugin


class KillOnceDuringAStack(WorkerPlugin):
    """The first worker to finish a stack's first frame dies there (``os._exit``), once.

    ``marker`` is created exclusively by the dying worker, so exactly one
    worker dies however many race, and the restarted one (which gets this
    plugin again) lets every stack through.
    """

    name = "napari-sam2-test-kill-once"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def setup(self, worker) -> None:
        from napari_sam2.engine import runner

        original, marker = runner.segment_stack, self.marker
        self._original = original

        def segment_stack(*args, progress=None, **kwargs):
            def dying(done: int, total: int) -> None:
                if progress is not None:
                    progress(done, total)
                if done >= 1:
                    try:
                        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    except FileExistsError:
                        return
                    os._exit(1)

            return original(*args, progress=dying, **kwargs)

        runner.segment_stack = segment_stack

    def teardown(self, worker) -> None:
        from napari_sam2.engine import runner

        runner.segment_stack = self._original
