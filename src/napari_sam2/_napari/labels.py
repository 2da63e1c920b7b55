"""Writing masks into a napari Labels layer through its undo history.

Every write goes through ``Labels.data_setitem`` (which records history).
Writes are grouped with ``Labels.block_history()`` into one undo step per
interaction; a propagation run keeps that context open from its first to
its last frame (:meth:`LabelsEditor.begin_run` / :meth:`LabelsEditor.end_run`),
so the whole run is one undo step even though its frames arrive over time.
napari's ``block_history`` commits when *any* nesting level exits, so all
grouping goes through one editor per layer, which nests by counting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

import numpy as np


def merge_frame(
    current: np.ndarray,
    obj_ids: Sequence[int],
    masks: Iterable[np.ndarray],
    overwrite: bool = False,
) -> np.ndarray:
    """The new label plane after writing ``masks`` of ``obj_ids`` onto ``current``.

    Each object's old pixels outside its new mask are cleared. New pixels are
    painted only where the plane is background or already that object, unless
    ``overwrite``: other objects' labels (including ones painted by hand) win.
    """
    new = np.array(current, copy=True)
    pairs = list(zip(obj_ids, masks))
    for obj_id, mask in pairs:
        new[(new == obj_id) & ~mask] = 0
    for obj_id, mask in pairs:
        free = mask if overwrite else mask & ((new == 0) | (new == obj_id))
        new[free] = obj_id
    return new


def _plane_indices(prefix: tuple[int, ...], rows: np.ndarray, cols: np.ndarray) -> tuple:
    """Fancy indices for pixels (rows, cols) of the plane at ``prefix``."""
    return tuple(np.full(rows.size, i, dtype=np.intp) for i in prefix) + (rows, cols)


class LabelsEditor:
    """Undoable writes of per-frame object masks into one Labels layer."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self._run: ExitStack | None = None
        self._depth = 0

    @contextmanager
    def group(self) -> Iterator[None]:
        """Group all writes inside into one undo step (nestable)."""
        self.begin_run()
        try:
            yield
        finally:
            self.end_run()

    # -- single interactions -------------------------------------------------
    def write_plane(
        self,
        prefix: tuple[int, ...],
        obj_ids: Sequence[int],
        masks: Iterable[np.ndarray],
        overwrite: bool = False,
    ) -> int:
        """Write masks on the plane at ``prefix`` as one undo step (or into the
        open run). Returns the number of pixels changed."""
        with self.group():
            return self._set_plane(prefix, obj_ids, masks, overwrite)

    def clear_object(self, obj_id: int, prefix: tuple[int, ...] | None = None) -> int:
        """Erase one object everywhere (or on one plane) as one undo step."""
        data = np.asarray(self.layer.data)
        region = data if prefix is None else data[prefix]
        found = np.nonzero(region == obj_id)
        if found[0].size == 0:
            return 0
        indices = found if prefix is None else _plane_indices(prefix, *found)
        with self.group():
            self._sync_slice()
            self.layer.data_setitem(indices, 0)
        return int(found[0].size)

    # -- propagation runs ----------------------------------------------------
    def begin_run(self) -> None:
        """Start grouping writes into one undo step (until the matching end_run)."""
        self._depth += 1
        if self._run is None:
            self._run = ExitStack()
            self._run.enter_context(self.layer.block_history())

    def end_run(self) -> None:
        """Commit the writes since the outermost :meth:`begin_run` as one undo step."""
        self._depth = max(0, self._depth - 1)
        if self._depth == 0 and self._run is not None:
            run, self._run = self._run, None
            run.close()

    @property
    def in_run(self) -> bool:
        return self._run is not None

    def _sync_slice(self) -> None:
        """napari leaves a hidden layer's slice as it was (a placeholder, or another
        slice); ``data_setitem`` indexes that slice, so bring it up to date first."""
        if not self.layer.visible:
            self.layer.set_view_slice()

    def _set_plane(self, prefix, obj_ids, masks, overwrite) -> int:
        self._sync_slice()
        current = np.asarray(self.layer.data[prefix])
        new = merge_frame(current, obj_ids, masks, overwrite)
        rows, cols = np.nonzero(new != current)
        if rows.size:
            self.layer.data_setitem(_plane_indices(prefix, rows, cols), new[rows, cols])
        return int(rows.size)
