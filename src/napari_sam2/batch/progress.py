"""One progress bar for a whole batch: frames segmented, with stacks done in its label.

Workers send ``{"stem", "done", "total"}`` events (see ``worker._Events``);
dask calls the handler on the client's event-loop thread, so events are
queued there and the bar is drawn only from the thread that runs the batch.
"""

from __future__ import annotations

import queue
import sys

__all__ = ["BatchProgress"]


class BatchProgress:
    """Frames (the bar) and stacks (its description) of ``num_stacks`` stacks."""

    def __init__(self, num_stacks: int, *, disable: bool = False) -> None:
        from tqdm.auto import tqdm

        self.num_stacks, self.stacks_done = num_stacks, 0
        self.frames: dict[str, tuple[int, int]] = {}  # stem -> (done, total) last heard
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.bar = tqdm(total=0, unit="frame", desc=self._desc(), disable=disable,
                        file=sys.stderr, dynamic_ncols=True)

    def _desc(self) -> str:
        return f"stacks {self.stacks_done}/{self.num_stacks}"

    def handler(self, event) -> None:
        """For ``Client.subscribe_topic``: ``event`` is ``(timestamp, message)``."""
        self.events.put(event[1])

    def _set(self, stem: str, done: int, total: int) -> None:
        self.frames[stem] = (done, total)

    def drain(self) -> None:
        """Apply the queued events and redraw."""
        changed = False
        while True:
            try:
                msg = self.events.get_nowait()
            except queue.Empty:
                break
            # A stack retried after its worker died starts again from 0: the bar goes back.
            self._set(str(msg["stem"]), int(msg["done"]), int(msg["total"]))
            changed = True
        if changed:
            self._redraw()

    def stack_finished(self, stem: str) -> None:
        """One more stack done (or failed): its frames count as all done."""
        self.drain()
        done, total = self.frames.get(stem, (0, 0))
        self._set(stem, total, total)
        self.stacks_done += 1
        self.bar.set_description_str(self._desc(), refresh=False)
        self._redraw()

    def _redraw(self) -> None:
        self.bar.total = sum(t for _, t in self.frames.values())
        self.bar.n = sum(d for d, _ in self.frames.values())
        self.bar.refresh()

    def close(self) -> None:
        self.drain()
        self.bar.close()
