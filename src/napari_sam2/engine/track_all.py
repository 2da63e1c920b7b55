"""Track all: seed every label of a frame, propagate them together, re-seed, record a lineage.

:func:`run_track_all` drives a session (a :class:`VideoSession`, or anything
with its ``add_mask / propagate / remove_object / result`` verbs): it seeds
the first frame from a seed source, propagates every object at once (the
session batches objects through memory attention and the decoder), ends a
track where its mask vanishes, and every ``reseed_every`` frames asks the
seed source again: seeds no track covers become new objects, a track
covering two seeds splits, and two new objects inside the last outline of a
track that ended are its daughters (:func:`decide_reseed`). The result is a
label stack whose ids are track ids and the :class:`TrackGraph`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_sam2.engine.lineage import Detection, ReseedRules, TrackGraph, decide_reseed
from napari_sam2.engine.seeding import (
    SeedSource,
    check_label_image,
    label_image_of,
    seed_from_labels,
)

__all__ = ["TrackAllOptions", "TrackAllResult", "iter_track_all", "run_track_all", "track_all"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrackAllOptions:
    """Frames ``[start, stop)`` tracked forward from ``start`` (seeded there);
    ``reseed_every``: ask the seed source again every k frames (None: never);
    ``non_overlap``: each pixel goes to at most one object; ``rules``: the
    re-seeding and division rule; masks below ``rules.min_area`` pixels end
    their track."""

    start: int = 0
    stop: int | None = None
    reseed_every: int | None = None
    non_overlap: bool = True
    fill_hole_area: int = 0
    rules: ReseedRules = field(default_factory=ReseedRules)

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ValueError(f"start must be >= 0, got {self.start}")
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"the frame range {self.start}..{self.stop} (start..stop) is empty")
        if self.reseed_every is not None and self.reseed_every < 1:
            raise ValueError(f"reseed_every must be >= 1, got {self.reseed_every}")
        if self.fill_hole_area < 0:
            raise ValueError(f"fill_hole_area must be >= 0, got {self.fill_hole_area}")

    def frame_range(self, num_frames: int) -> tuple[int, int]:
        stop = num_frames if self.stop is None else self.stop
        if not self.start < stop <= num_frames:
            raise ValueError(f"frame range {self.start}..{stop} is not within 0..{num_frames}")
        return self.start, stop

    def reseed_frames(self, num_frames: int) -> list[int]:
        start, stop = self.frame_range(num_frames)
        if self.reseed_every is None:
            return []
        return list(range(start + self.reseed_every, stop, self.reseed_every))


@dataclass
class TrackAllResult:
    labels: np.ndarray  # (T, H, W): track ids; 0 outside the range
    graph: TrackGraph


class _Run:
    """One track-all run: the session, the label stack and the graph it fills."""

    def __init__(self, session, seeds: SeedSource, options: TrackAllOptions,
                 labels: np.ndarray) -> None:
        self.session, self.seeds, self.options = session, seeds, options
        self.rules = options.rules
        self.labels = labels
        self.graph = TrackGraph()
        self.ended_since: dict[int, np.ndarray] = {}  # outlines of tracks ended since a reseed

    def seed(self, frame: int) -> None:
        labels = check_label_image(label_image_of(self.seeds, frame), self.session.frame_shape)
        mapping = seed_from_labels(self.session, frame, labels, ids="new",
                                   min_area=self.rules.min_area)
        for obj in mapping.values():
            self.graph.start_track(obj, frame)
        self.record(self.session.result(frame))

    def record(self, result) -> None:
        """Write a frame's masks of live tracks; a track whose mask vanished ends."""
        frame = result.frame
        out = self.labels[frame]
        ious = result.ious if result.ious is not None else np.full(len(result.obj_ids), np.nan)
        for i, obj in enumerate(result.obj_ids):
            if obj not in self.graph:
                continue
            track = self.graph.track(obj)
            if track.ended or frame in track.detections:  # a re-seeded frame: recorded already
                continue
            mask = result.masks[i] & (out == 0)
            if np.count_nonzero(mask) < self.rules.min_area:
                self.end(obj)
                continue
            out[mask] = obj
            det = Detection.of_mask(frame, mask, result.object_score_logits[i], ious[i])
            self.graph.record(obj, det)

    def end(self, obj: int, after: int | None = None) -> None:
        track = self.graph.track(obj)
        self.graph.end_track(obj, after)
        if track.detections:
            self.ended_since[obj] = self.labels[track.last] == obj
        if obj in self.session.obj_ids:
            self.session.remove_object(obj)

    def reseed(self, frame: int) -> None:
        seeds = check_label_image(label_image_of(self.seeds, frame), self.session.frame_shape)
        decision = decide_reseed(self.labels[frame], seeds, self.ended_since, self.rules)
        for obj in decision.splits:
            self.labels[frame][self.labels[frame] == obj] = 0
            self.end(obj, after=frame - 1)
        mothers = {s: m for m, pair in decision.divisions for s in pair}
        next_id = max([*self.graph.track_ids, *self.session.obj_ids], default=0) + 1
        for label in decision.new:
            obj, next_id = next_id, next_id + 1
            self.session.add_mask(frame, obj, seeds == label)
            self.graph.start_track(obj, frame, mothers.get(label))
        self.ended_since.clear()
        if decision.new:
            self.record(self.session.result(frame))

    def propagate(self, first: int, last: int) -> Iterator[int]:
        """Track frames ``first..last`` (the session's objects need memories before
        ``first``); yields each frame once recorded."""
        if not self.session.obj_ids:
            return
        for result in self.session.propagate(first, max_frames=last - first):
            self.record(result)
            yield result.frame
            if not self.session.obj_ids:
                return


def iter_track_all(session, seeds: SeedSource, options: TrackAllOptions = TrackAllOptions(),
                   *, labels: np.ndarray | None = None
                   ) -> Iterator[tuple[int, TrackAllResult]]:
    """Seed ``options.start`` from ``seeds``, track every object forward, re-seed every k
    frames; yields ``(frame, result)`` once per frame, when that frame's labels are final.

    ``result`` is the one run's :class:`TrackAllResult`, filled as the run goes: a
    caller that stops early keeps every frame yielded so far and their lineage.
    ``labels``: a zeroed ``(T, H, W)`` stack to fill (default: a new uint32 one).
    """
    start, stop = options.frame_range(session.num_frames)
    if labels is None:
        labels = np.zeros((session.num_frames, *session.frame_shape), np.uint32)
    run = _Run(session, seeds, options, labels)
    result = TrackAllResult(labels, run.graph)
    run.seed(start)
    yield start, result
    done = {start}
    bounds = [*options.reseed_frames(session.num_frames), stop]
    first = start + 1
    for bound in bounds:  # propagate up to each re-seeded frame, then re-seed it
        last = min(bound, stop - 1)
        if first <= last:
            for frame in run.propagate(first, last):
                if frame != bound:  # a re-seeded frame is final after its re-seed
                    done.add(frame)
                    yield frame, result
        if bound < stop:
            run.reseed(bound)
            done.add(bound)
            yield bound, result
        first = last + 1
    for frame in range(start, stop):
        if frame not in done:
            yield frame, result  # frames no object reached are final (empty)


def run_track_all(session, seeds: SeedSource, options: TrackAllOptions = TrackAllOptions(),
                  *, labels: np.ndarray | None = None,
                  progress: Progress | None = None) -> TrackAllResult:
    """:func:`iter_track_all` to the end; ``progress(done, total)`` after each frame."""
    start, stop = options.frame_range(session.num_frames)
    if progress is not None:
        progress(0, stop - start)
    last = None
    for done, step in enumerate(iter_track_all(session, seeds, options, labels=labels), 1):
        last = step
        if progress is not None:
            progress(done, stop - start)
    return last[1]  # the run yields its first frame at least


def track_all(model, frames, seeds: SeedSource, options: TrackAllOptions = TrackAllOptions(),
              *, workdir: str | Path | None = None,
              progress: Progress | None = None) -> TrackAllResult:
    """Open ``frames`` in a :class:`VideoSession` and :func:`run_track_all` on it."""
    from napari_sam2.engine.frames import open_frames
    from napari_sam2.engine.runner import label_buffer
    from napari_sam2.engine.session import VideoSession

    src = open_frames(frames)
    options.frame_range(src.num_frames)
    session = VideoSession(model, src, non_overlap=options.non_overlap,
                           fill_hole_area=options.fill_hole_area)
    labels = label_buffer((src.num_frames, *src.frame_shape), 1 << 20,
                          None if workdir is None else Path(workdir))
    return run_track_all(session, seeds, options, labels=labels, progress=progress)
