"""Writing masks into a napari Labels layer, keeping what each write replaced.

The plugin's writes do not go into napari's own history of the layer: that
history holds the brush strokes painted by hand. Instead the editor records,
while an action is open (:meth:`LabelsEditor.record`), every pixel it
changes (old and new value); the plugin's undo
(:mod:`napari_sam2._napari.undo`) puts the old values back where the pixel
still holds the action's value (a stroke painted since stays). A propagation run
records from its first to its last frame, so the whole run is one step even
though its frames arrive over time, and a stroke painted meanwhile stays a
step of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

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
    """Writes of per-frame object masks into one Labels layer, recorded for undo."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self._changes: list | None = None  # (indices, old, new) while recording

    @contextmanager
    def record(self, changes: list) -> Iterator[list]:
        """Append to ``changes`` every write made inside: ``(indices, old, new)``."""
        self.begin_record(changes)
        try:
            yield changes
        finally:
            self.end_record()

    def begin_record(self, changes: list) -> None:
        """Start recording into ``changes`` (until :meth:`end_record`)."""
        self._changes = changes

    def end_record(self) -> None:
        self._changes = None

    @property
    def recording(self) -> bool:
        return self._changes is not None

    # -- writes --------------------------------------------------------------
    def write_plane(
        self,
        prefix: tuple[int, ...],
        obj_ids: Sequence[int],
        masks: Iterable[np.ndarray],
        overwrite: bool = False,
    ) -> int:
        """Write masks on the plane at ``prefix``. Returns the number of pixels changed."""
        current = np.asarray(self.layer.data[prefix])
        new = merge_frame(current, obj_ids, masks, overwrite)
        return self._put(prefix, current, new)

    def clear_object(self, obj_id: int, prefix: tuple[int, ...] | None = None) -> int:
        """Erase one object everywhere (or on one plane); the number of pixels erased."""
        data = np.asarray(self.layer.data)
        if prefix is not None:
            plane = np.asarray(data[prefix])
            return self._put(prefix, plane, np.where(plane == obj_id, 0, plane))
        hit = data == obj_id
        if data.ndim == 2:
            return self._put((), data, np.where(hit, 0, data)) if hit.any() else 0
        count = 0
        for index in zip(*np.nonzero(hit.any(axis=(-2, -1)))):
            pre = tuple(int(i) for i in index)
            plane = np.asarray(data[pre])
            count += self._put(pre, plane, np.where(plane == obj_id, 0, plane))
        return count

    def restore(self, changes: list) -> None:
        """Undo recorded writes, newest first: a pixel gets its old value back
        where it still holds the value written (later hand-painting stays)."""
        data = self.layer.data
        for indices, old, new in reversed(changes):
            still = np.asarray(data[indices]) == new
            data[tuple(i[still] for i in indices)] = old[still]
        if changes:
            self.layer.refresh()

    def _put(self, prefix: tuple[int, ...], current: np.ndarray, new: np.ndarray) -> int:
        rows, cols = np.nonzero(new != current)
        if not rows.size:
            return 0
        indices = _plane_indices(prefix, rows, cols)
        if self._changes is not None:
            self._changes.append((indices, current[rows, cols].copy(), new[rows, cols].copy()))
        self.layer.data[indices] = new[rows, cols]
        self.layer.refresh()  # a hidden layer is sliced again when shown
        return int(rows.size)
