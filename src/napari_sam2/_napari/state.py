"""One session of the controller and the prompts it has been given.

Layer edits arrive as whole snapshots of the prompt layers (``{(frame,
obj_id): FramePrompt}``); :meth:`SessionState.changed` compares a snapshot
with what the session was last given, so only those frames are sent again.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from napari_sam2._napari.layout import StackLayout
from napari_sam2._napari.prompts import FramePrompt, PromptKey

__all__ = ["SessionState"]

_EMPTY = FramePrompt()


class SessionState:
    """A ``VideoSession``, the layout it was made for, and the prompts it was sent."""

    def __init__(self, session, layout: StackLayout) -> None:
        self.session = session
        self.layout = layout
        self._sent: dict[PromptKey, FramePrompt] = {}

    @property
    def sent(self) -> Mapping[PromptKey, FramePrompt]:
        """``{(frame, obj_id): FramePrompt}`` as last given to the session (read-only)."""
        return MappingProxyType(self._sent)

    def changed(self, now: Mapping[PromptKey, FramePrompt]) -> list[PromptKey]:
        """The keys whose prompt in ``now`` differs from the one sent, sorted
        (a key missing on one side counts as an empty prompt)."""
        keys = set(now) | set(self._sent)
        return sorted(k for k in keys if now.get(k, _EMPTY) != self._sent.get(k, _EMPTY))

    def mark_sent(self, key: PromptKey, prompt: FramePrompt) -> None:
        """Record that the session has (or has refused) ``prompt`` for ``key``."""
        self._sent[key] = prompt

    def forget_object(self, obj_id: int) -> None:
        """Forget what was sent for ``obj_id`` (deleted, or about to be restored)."""
        self._sent = {k: v for k, v in self._sent.items() if k[1] != obj_id}

    def restore_sent(self, sent: Mapping[PromptKey, FramePrompt]) -> None:
        """Make ``sent`` what the session was given (undo put the session back)."""
        self._sent = dict(sent)
