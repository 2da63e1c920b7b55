"""A lineage of tracked objects: tracks, their per-frame detections, divisions.

:class:`TrackGraph` is the one owner of that record; callers change it only
through its verbs (``start_track``, ``record``, ``end_track``,
``add_division``). A track is one object followed through consecutive
frames; a division links a mother track, which ends, to two daughter tracks
that start after it. Every detection carries its confidence: the object
score logit and the decoder's predicted IoU (NaN where a mask prompt or a
ground truth gave the mask).

:func:`decide_reseed` is the pure rule of re-seeding: which masks of a new
label image are new objects, which tracks split, and which new objects are
the daughters of a track that ended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

__all__ = ["Detection", "ReseedDecision", "ReseedRules", "Track", "TrackGraph", "decide_reseed"]


@dataclass(frozen=True)
class Detection:
    """One object on one frame: its size, centre and confidence."""

    frame: int
    area: int
    centroid: tuple[float, float]  # (y, x) pixels
    object_score: float = math.nan  # logit: > 0 present
    iou: float = math.nan  # predicted IoU of the mask

    @classmethod
    def of_mask(cls, frame: int, mask: np.ndarray, object_score: float = math.nan,
                iou: float = math.nan) -> Detection:
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            raise ValueError(f"an empty mask on frame {frame} is no detection")
        return cls(int(frame), int(ys.size), (float(ys.mean()), float(xs.mean())),
                   float(object_score), float(iou))


@dataclass
class Track:
    """One object through consecutive frames (changed only by :class:`TrackGraph`)."""

    track_id: int
    start: int
    parent: int | None = None
    detections: dict[int, Detection] = field(default_factory=dict)
    ended: bool = False

    @property
    def frames(self) -> list[int]:
        return sorted(self.detections)

    @property
    def last(self) -> int:
        """The last frame with a detection (``start - 1`` before any)."""
        return max(self.detections, default=self.start - 1)

    def confidence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(frames, object scores, predicted IoUs)`` in frame order, to spot drift."""
        frames = self.frames
        dets = [self.detections[f] for f in frames]
        return (np.array(frames, int), np.array([d.object_score for d in dets], float),
                np.array([d.iou for d in dets], float))


class TrackGraph:
    """Tracks with per-frame detections and parent links (divisions)."""

    def __init__(self) -> None:
        self._tracks: dict[int, Track] = {}

    # -- reading ------------------------------------------------------------------
    def __contains__(self, track_id: int) -> bool:
        return track_id in self._tracks

    def __len__(self) -> int:
        return len(self._tracks)

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._tracks)

    @property
    def live(self) -> list[int]:
        """Tracks not ended."""
        return [t for t in self.track_ids if not self._tracks[t].ended]

    def track(self, track_id: int) -> Track:
        if track_id not in self._tracks:
            raise ValueError(f"no track {track_id}")
        return self._tracks[track_id]

    def parents(self) -> dict[int, int]:
        """``{daughter: mother}`` of every division."""
        return {t: tr.parent for t, tr in self._tracks.items() if tr.parent is not None}

    def children(self, track_id: int) -> list[int]:
        return sorted(t for t, p in self.parents().items() if p == track_id)

    def divisions(self) -> list[tuple[int, tuple[int, ...]]]:
        """``(mother, daughters)`` for every mother, by mother id."""
        mothers = sorted(set(self.parents().values()))
        return [(m, tuple(self.children(m))) for m in mothers]

    def table(self) -> list[tuple[int, int, int, int]]:
        """``(track, first, last, parent or 0)`` of every track with a detection."""
        return [(t, tr.frames[0], tr.last, tr.parent or 0)
                for t, tr in sorted(self._tracks.items()) if tr.detections]

    # -- verbs --------------------------------------------------------------------
    def start_track(self, track_id: int, frame: int, parent: int | None = None) -> Track:
        if track_id in self._tracks:
            raise ValueError(f"track {track_id} exists already")
        self._tracks[int(track_id)] = track = Track(int(track_id), int(frame))
        if parent is not None:
            self.add_division(parent, [track_id])
        return track

    def record(self, track_id: int, detection: Detection) -> None:
        """The track's detection on a frame (a track is continuous: the next frame, or again)."""
        tr = self.track(track_id)
        if tr.ended:
            raise ValueError(f"track {track_id} has ended")
        if tr.detections and detection.frame not in tr.detections \
                and detection.frame != tr.last + 1:
            raise ValueError(f"track {track_id} ends on frame {tr.last}; a detection on frame "
                             f"{detection.frame} would leave a gap")
        tr.detections[detection.frame] = detection

    def end_track(self, track_id: int, after: int | None = None) -> None:
        """End a track; ``after``: drop its detections later than that frame."""
        tr = self.track(track_id)
        if after is not None:
            for f in [f for f in tr.detections if f > after]:
                del tr.detections[f]
        tr.ended = True

    def add_division(self, mother: int, daughters) -> None:
        """Link ``daughters`` to ``mother``: they must start after the mother's last frame."""
        m = self.track(mother)
        for d in daughters:
            tr = self.track(d)
            if tr.start <= m.last:
                raise ValueError(f"track {d} starts on frame {tr.start}, not after its mother "
                                 f"{mother}'s last frame {m.last}")
            tr.parent = int(mother)

    # -- building -----------------------------------------------------------------
    @classmethod
    def from_labels(cls, labels, parents: dict[int, int] | None = None) -> TrackGraph:
        """A graph of a label stack ``(T, H, W)`` whose ids are tracks (e.g. a ground truth).

        An id that leaves and comes back (a gap in its track) raises ``ValueError``.
        """
        arr = np.asarray(labels)
        graph = cls()
        for t in range(arr.shape[0]):
            frame = arr[t]
            for i, box in enumerate(ndi.find_objects(frame.astype(np.int64, copy=False)), 1):
                if box is None:
                    continue
                mask = np.zeros(frame.shape, bool)
                mask[box] = frame[box] == i
                if i not in graph:
                    graph.start_track(i, t)
                graph.record(i, Detection.of_mask(t, mask))
        for tr in graph._tracks.values():
            tr.ended = True
        for daughter, mother in sorted((parents or {}).items()):
            if daughter in graph and mother in graph:
                graph.add_division(mother, [daughter])
        return graph


@dataclass(frozen=True)
class ReseedRules:
    """When a seed is new, when a track split, when new objects are daughters.

    ``cover``: a seed with at least this fraction inside tracked masks is
    already tracked; a track covering two or more seeds that much split.
    ``inside``: a new seed with at least this fraction inside an ended
    track's last outline (grown by ``grow`` pixels) may be its daughter;
    exactly two daughters make a division. ``min_area``: smaller seeds are
    ignored.
    """

    cover: float = 0.5
    inside: float = 0.5
    grow: int = 3
    min_area: int = 10

    def __post_init__(self) -> None:
        for name in ("cover", "inside"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.grow < 0 or self.min_area < 1:
            raise ValueError("grow must be >= 0 and min_area >= 1")


@dataclass(frozen=True)
class ReseedDecision:
    new: tuple[int, ...]  # seed labels that become new objects
    splits: tuple[int, ...]  # live tracks that covered two or more seeds: they end
    divisions: tuple[tuple[int, tuple[int, int]], ...]  # (mother track, two seed labels)


def decide_reseed(tracked: np.ndarray, seeds: np.ndarray, ended: dict[int, np.ndarray],
                  rules: ReseedRules = ReseedRules()) -> ReseedDecision:
    """Compare a frame's live tracks ``tracked`` (labels) with ``seeds`` (labels).

    ``ended``: the last outline ``(H, W)`` bool of each track that ended
    since the last re-seeding. A live track that covers two or more seeds
    ends too, its outline on this frame joining ``ended``.
    """
    tracked = np.asarray(tracked)
    seeds = np.asarray(seeds)
    if tracked.shape != seeds.shape:
        raise ValueError(f"tracked {tracked.shape} and seed {seeds.shape} labels differ in shape")
    owners: dict[int, list[int]] = {}
    new: list[int] = []
    for label, box in enumerate(ndi.find_objects(seeds.astype(np.int64, copy=False)), 1):
        if box is None:
            continue
        inside = tracked[box][seeds[box] == label]
        if inside.size < rules.min_area:
            continue
        covered = inside[inside > 0]
        if covered.size < rules.cover * inside.size:
            new.append(label)
            continue
        ids, counts = np.unique(covered, return_counts=True)
        best = int(ids[counts.argmax()])
        if counts.max() >= rules.cover * inside.size:
            owners.setdefault(best, []).append(label)
    splits = tuple(sorted(t for t, labels in owners.items() if len(labels) >= 2))
    outlines = dict(ended)
    for t in splits:
        new.extend(owners[t])
        outlines[t] = tracked == t
    new.sort()
    divisions = []
    taken: set[int] = set()
    for mother in sorted(outlines):
        outline = outlines[mother]
        if rules.grow:
            outline = ndi.binary_dilation(outline, iterations=rules.grow)
        inside = [s for s in new if s not in taken
                  and np.mean(outline[seeds == s]) >= rules.inside]
        if len(inside) == 2:
            divisions.append((mother, (inside[0], inside[1])))
            taken.update(inside)
    return ReseedDecision(tuple(new), splits, tuple(divisions))
