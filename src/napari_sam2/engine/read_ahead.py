"""Encode-ahead on the input side: the next frame is read and normalised while
the current one is computed.

Reading a frame (a TIFF page, a zarr chunk, a memmap's pages from disk) and
turning it into the model's normalised ``(1, 3, S, S)`` input takes tens to
hundreds of milliseconds; during a propagation it can happen in a background
thread while the model works on the previous frame. The inputs are computed
by the same function either way, so results are identical with and without
it. Reads never overlap: a frame source need not be thread-safe.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from napari_sam2.engine.frames import FrameSource
from napari_sam2.engine.preprocess import Normalization, to_model_input
from napari_sam2.model.sam2 import SAM2Model

__all__ = ["FrameInputs"]


class FrameInputs:
    """The model input of a frame: ``get(frame)``; ``ahead(frame)`` queues one to be
    prepared in a background thread (a no-op when ``enabled`` is False).

    One worker reads frames in order; at most ``MAX_AHEAD`` wait, the oldest
    is dropped beyond that. A frame asked for but not queued is read by the
    same worker after the queued ones, so reads never overlap.
    """

    MAX_AHEAD = 2

    def __init__(self, load: Callable[[int], torch.Tensor], enabled: bool = True) -> None:
        self._load = load
        self.enabled = bool(enabled)
        self._pool = ThreadPoolExecutor(1, "napari-sam2-read-ahead") if enabled else None
        self._pending: dict[int, Future] = {}
        self._lock = threading.Lock()
        self.hits = 0  # frames that were ready (or on their way) when asked for

    @classmethod
    def of(cls, frames: FrameSource, model: SAM2Model, normalization: Normalization,
           enabled: bool = True) -> FrameInputs:
        """The inputs of ``model`` for the frames of a session."""
        return cls(functools.partial(_model_input, frames, model, normalization), enabled)

    def ahead(self, frame: int) -> None:
        """Queue ``frame`` to be read and normalised in the background."""
        if self._pool is None:
            return
        with self._lock:
            if frame in self._pending:
                return
            while len(self._pending) >= self.MAX_AHEAD:
                self._pending.pop(next(iter(self._pending))).cancel()
            self._pending[frame] = self._pool.submit(self._load, frame)

    def get(self, frame: int) -> torch.Tensor:
        """The input of ``frame``: the one read ahead if queued, else read now."""
        if self._pool is None:
            return self._load(frame)
        with self._lock:
            future = self._pending.pop(frame, None)
            if future is not None:
                self.hits += 1
            else:
                future = self._pool.submit(self._load, frame)
        return future.result()  # a failed read raises here, as a direct read would


def _model_input(frames: FrameSource, model: SAM2Model, normalization: Normalization,
                 frame: int) -> torch.Tensor:
    return to_model_input(frames.read(frame), model.cfg.image_size, normalization,
                          frame=frame, device=model.device)
