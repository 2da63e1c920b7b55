"""One undo history for the plugin: one Ctrl+Z undoes one user action everywhere.

A user action (a click, a candidate choice, a mask prompt, a propagation, an
object deleted) changes four things: the prompt layers, the session's
prompts and memories, what the controller sent, and the Labels layer.
:class:`UserAction` keeps what each was before; :meth:`UndoHistory.undo`
puts them back together. Brush strokes painted by hand stay napari's own
history entries; :class:`BrushStroke` marks their place in the order, so
Ctrl+Z undoes them in turn (and a stroke made during a run is a step of its
own, never merged with the run).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from napari_sam2._napari import notify

__all__ = [
    "BrushStroke",
    "PromptLayers",
    "UndoHistory",
    "Undoing",
    "UserAction",
    "restore_session",
    "snapshot_session",
]

MAX_STEPS = 20  # each step holds a forked memory bank (tensors shared, not copied)


@dataclass(frozen=True)
class PromptLayers:
    """The content of the Points and Shapes prompt layers at one moment."""

    points: np.ndarray | None = None
    point_features: pd.DataFrame | None = None
    shapes: tuple = ()
    shape_types: tuple = ()
    shape_features: pd.DataFrame | None = None

    @classmethod
    def of(cls, points_layer, shapes_layer) -> PromptLayers:
        """A copy of what the layers hold now."""
        pts = np.array(points_layer.data, copy=True) if points_layer is not None else None
        feats = points_layer.features.copy() if points_layer is not None else None
        if shapes_layer is None:
            return cls(pts, feats)
        return cls(
            pts,
            feats,
            tuple(np.array(s, copy=True) for s in shapes_layer.data),
            tuple(shapes_layer.shape_type),
            shapes_layer.features.copy(),
        )

    def put_back(self, points_layer, shapes_layer) -> None:
        """Make the layers hold this content again."""
        if points_layer is not None and self.points is not None:
            defaults = points_layer.feature_defaults
            points_layer.selected_data = set()
            points_layer.data = self.points
            points_layer.features = _with_columns(self.point_features, defaults)
            points_layer.feature_defaults = defaults
            points_layer.refresh_colors()
        if shapes_layer is not None and self.shape_features is not None:
            defaults = shapes_layer.feature_defaults
            shapes_layer.selected_data = set()
            shapes_layer.data = []
            if self.shapes:
                shapes_layer.add(list(self.shapes), shape_type=list(self.shape_types))
            shapes_layer.features = _with_columns(self.shape_features, defaults)
            shapes_layer.feature_defaults = defaults


def _with_columns(features: pd.DataFrame, defaults: pd.DataFrame) -> pd.DataFrame:
    """``features`` with every column of ``defaults`` (missing ones get the default:
    a snapshot taken before the plugin gave the layer its features)."""
    out = features.copy()
    for column in defaults.columns:
        if column not in out.columns:
            value, dtype = defaults[column].iloc[0], defaults[column].dtype
            out[column] = pd.Series([value] * len(out), index=out.index, dtype=dtype)
    return out


def snapshot_session(session):
    """The session's prompts and memories now (a fork of its bank: tensors shared).

    The engine has no public verb for this yet; the session's lock keeps a
    worker from changing the bank meanwhile.
    """
    with session._lock:
        return session.bank.fork()


def restore_session(session, bank) -> None:
    """Give the session back the prompts and memories of :func:`snapshot_session`."""
    with session._lock:
        old, session.bank = session.bank, bank.fork()
        session._tracker.bank = session.bank
        session._tracker.forget()  # conditioned embeddings are keyed by revision
        old.reset()


@dataclass
class UserAction:
    """What one user action changed, as it was before the action."""

    name: str
    prompts: PromptLayers
    state: Any = None  # the SessionState acted on
    bank: Any = None  # snapshot_session() of its session
    sent: dict = field(default_factory=dict)
    changes: list = field(default_factory=list)  # LabelsEditor.record()'s writes
    labels: Any = None  # the Labels layer written
    points_layer: Any = None  # the prompt layers acted on
    shapes_layer: Any = None

    def release(self) -> None:
        """Drop the held bank (its tensors go when nothing else holds them)."""
        if self.bank is not None:
            self.bank.reset()
            self.bank = None


@dataclass(frozen=True)
class BrushStroke:
    """A stroke painted by hand: napari's own history entry of that Labels layer."""

    labels: Any


class UndoHistory:
    """The plugin's user actions, newest last (at most ``MAX_STEPS``)."""

    def __init__(self) -> None:
        self._steps: deque[UserAction | BrushStroke] = deque()

    def __len__(self) -> int:
        return len(self._steps)

    def push(self, step: UserAction | BrushStroke) -> None:
        self._steps.append(step)
        while len(self._steps) > MAX_STEPS:
            old = self._steps.popleft()
            if isinstance(old, UserAction):
                old.release()

    def pop(self) -> UserAction | BrushStroke | None:
        return self._steps.pop() if self._steps else None

    @property
    def last(self) -> UserAction | BrushStroke | None:
        return self._steps[-1] if self._steps else None

    def clear(self) -> None:
        while self._steps:
            step = self._steps.pop()
            if isinstance(step, UserAction):
                step.release()


class Undoing:
    """The undo verbs of :class:`Sam2Controller` (a mixin: it uses the controller's
    layers, sessions, editors and signals)."""

    def _synced_prompts(self) -> PromptLayers:
        """The prompt layers as the session last saw them (before the edit now being
        handled); the first time, as they are now."""
        key = id(self.points_layer)
        if key not in self._synced:
            self._synced[key] = PromptLayers.of(self.points_layer, self.shapes_layer)
        return self._synced[key]

    def _layers_ready(self) -> None:
        """The prompt layers before any edit: what undoing the first action brings back."""
        self._synced_prompts()

    def _mark_synced(self) -> None:
        self._synced[id(self.points_layer)] = PromptLayers.of(
            self.points_layer, self.shapes_layer
        )

    def _begin_action(self, name: str, st, editor, prompts: PromptLayers | None = None):
        """A new user action on ``st``: everything as it is before the action."""
        return UserAction(
            name,
            self._synced_prompts() if prompts is None else prompts,
            st,
            snapshot_session(st.session),
            dict(st.sent),
            labels=editor.layer,
            points_layer=self.points_layer,
            shapes_layer=self.shapes_layer,
        )

    def _painted(self, layer) -> None:
        """A brush stroke by hand on ``layer``: a step of its own."""
        self.history.push(BrushStroke(layer))

    @notify.reports_errors
    def undo(self) -> None:
        """Undo the last user action everywhere: prompt layers, session, object list
        and labels (or the last brush stroke). After the model steps pending; the
        session is put back in a worker (a background step may hold it)."""
        if self.is_running:
            raise ValueError("cancel the propagation before undoing")
        self._undo_presses = getattr(self, "_undo_presses", 0) + 1
        self.jobs.submit(f"undo {self._undo_presses}", self._undo_job)

    def _undo_job(self):
        from napari_sam2._napari.jobs import Job

        step = self.history.pop()
        if step is None:
            notify.info("SAM 2: nothing to undo")
            return None
        if isinstance(step, BrushStroke):
            step.labels.undo()
            return None
        self._muted = True
        try:
            step.prompts.put_back(step.points_layer, step.shapes_layer)
        finally:
            self._muted = False
        self._synced[id(step.points_layer)] = step.prompts
        step.state.restore_sent(step.sent)
        self._candidate_index.clear()

        def done(_answer=None) -> None:
            step.release()
            if step.labels is not None:
                self.editor_for(step.labels).restore(step.changes)
            self.objects_changed.emit()
            notify.info(f"SAM 2: undid {step.name}")

        return Job(
            lambda: restore_session(step.state.session, step.bank), done, self._job_failed,
            f"SAM 2: undoing {step.name}…",
        )
