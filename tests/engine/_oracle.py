"""A session stand-in that tracks perfectly: each object follows the ground-truth cell its
seed mask overlaps most, and is absent once that cell is gone (tests of track-all logic)."""

from __future__ import annotations

import numpy as np

from napari_sam2.engine.results import FrameResult


class OracleSession:
    def __init__(self, truth: np.ndarray) -> None:
        self.truth = np.asarray(truth)
        self.cell: dict[int, int] = {}  # object id -> ground-truth id
        self.propagated: list[tuple[int, int]] = []  # (start, max_frames) of each call

    @property
    def num_frames(self) -> int:
        return self.truth.shape[0]

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.truth.shape[1:]

    @property
    def obj_ids(self) -> list[int]:
        return sorted(self.cell)

    def add_mask(self, frame: int, obj_id: int, mask) -> FrameResult:
        ids, counts = np.unique(self.truth[frame][np.asarray(mask, bool)], return_counts=True)
        counts[ids == 0] = 0
        self.cell[obj_id] = int(ids[counts.argmax()])
        return self.result(frame)

    def remove_object(self, obj_id: int) -> None:
        del self.cell[obj_id]

    def result(self, frame: int) -> FrameResult:
        ids = tuple(self.obj_ids)
        masks = np.stack([self.truth[frame] == self.cell[o] for o in ids]) if ids else \
            np.zeros((0, *self.frame_shape), bool)
        scores = np.where(masks.any(axis=(1, 2)), 5.0, -5.0).astype(np.float32)
        return FrameResult(frame, ids, np.zeros((len(ids), 4, 4), np.float32), scores, masks,
                           np.full(len(ids), 0.9, np.float32))

    def propagate(self, start=None, reverse=False, max_frames=None):
        assert not reverse
        self.propagated.append((start, max_frames))
        for f in range(start, min(start + max_frames, self.num_frames - 1) + 1):
            yield self.result(f)
