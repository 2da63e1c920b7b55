"""One propagation in long-stack mode: every object's pathways, frame by frame.

:class:`LongStackRun` keeps, per object, the pathways of a
:class:`~napari_sam2.engine.memory_tree.MemoryTree`. On each frame the image
is encoded once; the pathways of all objects go through memory attention and
the decoder as one batch per memory structure, candidates are scored and
pruned per object, and the kept candidates' memories are encoded as one batch.
The session's own bank receives the current best pathway's mask of every
frame (provisional); :meth:`LongStackRun.finish` gives it the best path and
says which frames changed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from napari_sam2.engine.memory_bank import (
    Direction,
    FrameMemory,
    MemoryBank,
    MemoryKind,
    MemorySelection,
)
from napari_sam2.engine.memory_tree import (
    MemoryTree,
    Step,
    key_weights,
    memory_frames,
    prune,
    score_candidates,
    select_remembered,
)
from napari_sam2.engine.tracker import Tracker, group_by_structure
from napari_sam2.model.sam2 import ImageFeatures


@dataclass
class Pathway:
    """One hypothesis of one object: its memories, cumulative score and steps of this run."""

    bank: MemoryBank  # a fork of the session's bank, holding this object only
    score: float
    history: list[Step]


@dataclass(frozen=True)
class _Row:
    obj_id: int
    pathway: int
    selection: MemorySelection
    weights: list[float] | None


class LongStackRun:
    """The memory tree of every object during one propagation in one direction."""

    def __init__(
        self,
        bank: MemoryBank,
        tracker: Tracker,
        tree: MemoryTree,
        direction: Direction,
        postprocess: Callable[[FrameMemory], FrameMemory] = lambda memory: memory,
    ) -> None:
        self.bank, self.tracker, self.tree, self.direction = bank, tracker, tree, direction
        self.postprocess = postprocess  # applied to a mask once its memory is encoded
        self.pathways: dict[int, list[Pathway]] = {}
        self.visited: dict[int, list[int]] = {}  # obj_id -> frames tracked in this run

    # -- one frame ---------------------------------------------------------------
    def track(self, feats: ImageFeatures, obj_ids: list[int], frame: int) -> None:
        """Track ``frame`` for ``obj_ids`` (none of which is prompted there)."""
        first = [o for o in obj_ids if o not in self.pathways]
        if first:
            self._first_frame(feats, first, frame)
        growing = [o for o in obj_ids if o in self.pathways and o not in first]
        if growing:
            self._branch(feats, growing, frame)
        for obj_id in obj_ids:
            self.visited.setdefault(obj_id, []).append(frame)
            self.bank.adopt(obj_id, frame, self.best(obj_id).bank)  # provisional answer

    def _first_frame(self, feats: ImageFeatures, obj_ids: list[int], frame: int) -> None:
        # The first frame a run tracks has one pathway, as in plain SAM 2.
        rows = [_Row(o, 0, self._select(self.bank, o, frame, []), None) for o in obj_ids]
        outs = self._decode(feats, rows)
        for row, (out, i) in zip(rows, outs):
            memory = FrameMemory(
                out.masks[i : i + 1], out.obj_ptr[i : i + 1], out.object_score_logits[i : i + 1],
                iou=float(out.ious[i].max()),
            )
            memory.features = self.tracker.encode(feats, memory.mask_logits, memory.object_score)
            fork = self.bank.fork([row.obj_id])
            fork.store_tracked(row.obj_id, frame, self.postprocess(memory))
            step = Step(frame, float(out.ious[i].max()), float(out.object_score_logits[i, 0]))
            self.pathways[row.obj_id] = [Pathway(fork, 0.0, [step])]
            # The pathways then start as copies of this one, all at score 0.
            for _ in range(1, self.tree.pathways):
                self.pathways[row.obj_id].append(Pathway(fork.fork(), 0.0, [step]))

    def _branch(self, feats: ImageFeatures, obj_ids: list[int], frame: int) -> None:
        rows = []
        for obj_id in obj_ids:
            for p, path in enumerate(self.pathways[obj_id]):
                remembered = memory_frames(path.history, self.tree, self._max_pointers())
                sel = self._select(path.bank, obj_id, frame, remembered)
                score = functools.partial(path.bank.object_score, obj_id, kind=MemoryKind.TRACKED)
                rows.append(_Row(obj_id, p, sel, key_weights(sel, score, self.tree)))
        outs = self._decode(feats, rows)
        kept: list[
            tuple[int, Pathway, int, object, int]
        ] = []  # (obj, parent, candidate index, out, row)
        scores_of: dict[int, float] = {}
        for obj_id in obj_ids:
            mine = [(r, o) for r, o in zip(rows, outs) if r.obj_id == obj_id]
            ious = torch.stack([out.ious[i] for _, (out, i) in mine]).float()
            object_scores = torch.stack(
                [out.object_score_logits[i, 0] for _, (out, i) in mine]
            ).float()
            paths = self.pathways[obj_id]
            for cand in prune(
                score_candidates([p.score for p in paths], ious, object_scores),
                object_scores,
                self.tree,
            ):
                out, i = mine[cand.pathway][1]
                kept.append((obj_id, paths[cand.pathway], cand.index, out, i))
                scores_of[len(kept) - 1] = cand.score
        masks = torch.cat([out.candidates[i, j][None, None] for _, _, j, out, i in kept])
        object_scores = torch.cat([out.object_score_logits[i : i + 1] for _, _, _, out, i in kept])
        features = self.tracker.encode(feats, masks, object_scores)
        new: dict[int, list[Pathway]] = {o: [] for o in obj_ids}
        for k, (obj_id, parent, j, out, i) in enumerate(kept):
            fork = parent.bank.fork()
            memory = FrameMemory(
                masks[k : k + 1],
                out.candidate_ptrs[i, j][None],
                object_scores[k : k + 1],
                features[k : k + 1],
                float(out.ious[i, j]),
            )
            fork.store_tracked(obj_id, frame, self.postprocess(memory))
            step = Step(frame, float(out.ious[i, j]), float(out.object_score_logits[i, 0]))
            new[obj_id].append(Pathway(fork, scores_of[k], [*parent.history, step]))
        for obj_id in obj_ids:
            for path in self.pathways[obj_id]:
                path.bank.reset()  # release what only the pruned pathways held
            self.pathways[obj_id] = new[obj_id]

    def _select(
        self, bank: MemoryBank, obj_id: int, frame: int, remembered: list[int]
    ) -> MemorySelection:
        if not self.tree.object_aware:
            return bank.select(obj_id, frame, self.direction)
        return select_remembered(bank, obj_id, frame, self.direction, remembered)

    def _max_pointers(self) -> int:
        rules = self.bank.rules
        return min(rules.num_frames, rules.max_obj_ptrs)

    def _decode(self, feats: ImageFeatures, rows: list[_Row]) -> list[tuple[object, int]]:
        """Each row's (batched output, row index in it), batching rows of one structure."""
        outs: list[tuple[object, int] | None] = [None] * len(rows)
        for members in group_by_structure([r.selection for r in rows]):
            group = [rows[i] for i in members]
            weights = None
            if any(r.weights is not None for r in group):
                n = len(group[0].selection.spatial) + len(group[0].selection.pointers)
                weights = torch.tensor([r.weights or [1.0] * n for r in group], dtype=torch.float32)
            out = self.tracker.decode(feats, [r.selection for r in group], weights)
            for k, i in enumerate(members):
                outs[i] = (out, k)
        return outs  # type: ignore[return-value]

    # -- the answer ----------------------------------------------------------------
    def best(self, obj_id: int) -> Pathway:
        """The pathway with the best cumulative score (the first on ties)."""
        paths = self.pathways[obj_id]
        return max(paths, key=lambda p: p.score) if len(paths) > 1 else paths[0]

    def finish(self) -> list[int]:
        """Give the session's bank the best path of every object; frames whose mask changed."""
        changed = set()
        for obj_id, frames in self.visited.items():
            best = self.best(obj_id).bank
            for frame in frames:
                if self.bank.entry_id(obj_id, frame, MemoryKind.TRACKED) != best.entry_id(
                    obj_id, frame, MemoryKind.TRACKED
                ):
                    self.bank.adopt(obj_id, frame, best)
                    changed.add(frame)
        for paths in self.pathways.values():
            for path in paths:
                path.bank.reset()
        self.pathways.clear()
        return sorted(changed)
