"""``VideoSession``: SAM 2's promptable video segmentation over a lazy stack.

A z-stack's slices or a time-lapse's time points are the frames. Prompts go
on any frame at any time; ``propagate`` yields one result per frame so a
caller can show progress, stop early and write each frame as it arrives.

Semantics follow the reference video predictor (Dec 2024), with one
deliberate difference: a correction on an already tracked frame makes it a
conditioning frame, so the next propagation keeps the user's correction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from napari_sam2.engine.feature_cache import FeatureCache
from napari_sam2.engine.frames import FrameSource, open_frames
from napari_sam2.engine.long_stack import LongStackRun
from napari_sam2.engine.memory_bank import Direction, FrameMemory, MemoryBank, MemoryRules
from napari_sam2.engine.memory_tree import MemoryTree
from napari_sam2.engine.plan import frame_order
from napari_sam2.engine.postprocess import fill_holes_in_logits
from napari_sam2.engine.preprocess import Normalization
from napari_sam2.engine.prompts import (
    PointPrompt,
    check_frame_index,
    check_obj_id,
    make_box,
    make_mask,
    make_points,
)
from napari_sam2.engine.read_ahead import FrameInputs
from napari_sam2.engine.results import (
    FrameResult,
    ImagePrediction,
    candidate_prediction,
    frame_result,
)
from napari_sam2.engine.store import TensorStore
from napari_sam2.engine.tracker import Tracker
from napari_sam2.model.sam2 import ImageFeatures, SAM2Model

GiB = 1024**3
# Sized for a 16 GB laptop: encoder features (16 MB a frame for 1024 input)
# and per-frame memories (1.3 MB a frame and object) get 2 GiB each in RAM.
DEFAULT_CACHE_BYTES = 2 * GiB
DEFAULT_MEMORY_BUDGET_BYTES = 2 * GiB


class VideoSession:
    """Segment and track objects through the frames of a stack.

    ``frames``: a numpy / dask / zarr array, a memmap, a TIFF / zarr / .npy
    path, or a :class:`FrameSource`; ``frame_axis`` is the axis that plays
    the role of time; ``fixed`` pins other non-spatial axes (e.g. TZYX
    tracked through t at z=2: ``frame_axis=0, fixed={1: 2}``); ``channel``
    picks one channel of ``channel_axis`` (or of trailing RGB).
    ``read_ahead``: while a frame is tracked, read and normalise the next one
    in a background thread (same results; False reads each frame when needed).
    ``key_cache_bytes``: RAM to reuse memory keys across frames (engine/key_cache.py; 0: off).
    """

    def __init__(
        self,
        model: SAM2Model,
        frames,
        frame_axis: int = 0,
        channel: int | None = None,
        *,
        fixed: dict[int, int] | None = None,
        channel_axis: int | None = None,
        rgb: bool | None = None,
        cache_bytes: int | None = None,
        memory_budget_bytes: int | None = None,
        spill_dir: str | Path | None = None,
        feature_cache_path: str | Path | None = None,
        fill_hole_area: int = 0,
        non_overlap: bool = False,
        normalization: Normalization | None = None,
        memory_tree: MemoryTree | None = None,
        read_ahead: bool = True,
        key_cache_bytes: int = 0,
    ) -> None:
        self.model = model
        self.frames: FrameSource = open_frames(
            frames, frame_axis=frame_axis, channel=channel, channel_axis=channel_axis, rgb=rgb,
            fixed=fixed,
        )
        self.normalization = normalization or Normalization()
        self.fill_hole_area = int(fill_hole_area)
        self.non_overlap = bool(non_overlap)
        if memory_tree is not None and not isinstance(memory_tree, MemoryTree):
            raise ValueError(f"memory_tree must be a MemoryTree or None, got {memory_tree!r}")
        self.memory_tree = memory_tree  # long-stack mode when set
        cfg = model.cfg
        fingerprint = f"{cfg.name}|{cfg.image_size}|{self.normalization}|{self.frames.describe()}"
        cache = DEFAULT_CACHE_BYTES if cache_bytes is None else cache_bytes
        self.feature_cache = FeatureCache(cache, disk_path=feature_cache_path,
                                          fingerprint=fingerprint, device=model.device)
        budget = DEFAULT_MEMORY_BUDGET_BYTES if memory_budget_bytes is None else memory_budget_bytes
        store = TensorStore(budget, spill_dir=spill_dir, on_evict="spill")
        self.bank = MemoryBank(store, MemoryRules.from_config(cfg, self.num_frames))
        self._tracker = Tracker(model, self.bank, self.frame_shape, key_cache_bytes)
        self._lock = threading.RLock()
        self.inputs = FrameInputs.of(self.frames, model, self.normalization, enabled=read_ahead)

    @property
    def num_frames(self) -> int:
        return self.frames.num_frames

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.frames.frame_shape

    @property
    def obj_ids(self) -> list[int]:
        return self.bank.obj_ids

    def prompted_frames(self, obj_id: int) -> list[int]:
        """Frames where ``obj_id`` has prompts, sorted."""
        return self.bank.prompted_frames(self._known(obj_id))

    def tracked_frames(self, obj_id: int) -> list[int]:
        """Frames where ``obj_id`` has a mask (prompted or propagated), sorted."""
        return self.bank.frames_with_masks(self._known(obj_id))

    def _frame(self, frame) -> int:
        return check_frame_index(frame, self.num_frames)
    def _known(self, obj_id) -> int:
        obj_id = check_obj_id(obj_id)
        if obj_id not in self.bank:
            raise ValueError(f"unknown object id {obj_id}; objects in this session: {self.obj_ids}")
        return obj_id

    def features(self, frame: int) -> ImageFeatures:
        """Encoder features of ``frame``, from the cache when present."""
        cached = self.feature_cache.get(frame)
        if cached is not None:
            return ImageFeatures.from_dict(cached)
        image = self.inputs.get(frame)
        with torch.inference_mode():
            feats = self.model.encode_image(image)
        self.feature_cache.put(frame, feats.as_dict())
        return feats

    def prepare(self, frame: int, obj_id: int | None = None) -> None:
        """Do now the work a click on ``frame`` would start with, so it answers at once.

        Encodes the frame (into the feature cache) and, when ``obj_id`` was
        tracked there, conditions it on that object's memories. Meant for a
        background thread while the user looks at a slice; results are the
        same as without it.
        """
        frame = self._frame(frame)
        with self._lock:
            feats = self.features(frame)
            if (
                obj_id is not None
                and obj_id in self.bank
                and self.bank.visited(obj_id, frame) is not None
            ):
                with torch.inference_mode():
                    self._tracker.conditioned(feats, obj_id, frame)

    # -- prompts ------------------------------------------------------------
    def add_points(
        self, frame: int, obj_id: int, points, labels, clear: bool = True
    ) -> FrameResult:
        """Clicks on ``frame`` for ``obj_id`` (1 positive, 0 negative); the frame's masks at once.

        ``clear=False`` adds to the clicks (or box) already on that frame.
        """
        frame = self._frame(frame)
        prompt = make_points(points, labels, self.frame_shape)
        obj_id = check_obj_id(obj_id)
        with self._lock:
            old = self.bank.prompt(obj_id, frame) if obj_id in self.bank else None
            if not clear and isinstance(old, PointPrompt):
                prompt = old.extended(prompt)
            return self._interact(obj_id, frame, prompt)

    def add_box(self, frame: int, obj_id: int, box, clear: bool = True) -> FrameResult:
        """A box ``(x0, y0, x1, y1)``; ``clear=False`` keeps the frame's clicks after it."""
        frame = self._frame(frame)
        prompt = make_box(box, self.frame_shape)
        obj_id = check_obj_id(obj_id)
        with self._lock:
            old = self.bank.prompt(obj_id, frame) if obj_id in self.bank else None
            if not clear and isinstance(old, PointPrompt):
                clicks = old.labels < 2  # the box goes first, then the clicks
                prompt = prompt.extended(PointPrompt(old.coords[clicks], old.labels[clicks]))
            return self._interact(obj_id, frame, prompt)

    def set_prompt(self, frame: int, obj_id: int, *, box=None, points=None,
                   labels=None) -> FrameResult:
        """Make ``obj_id``'s whole prompt on ``frame`` a box and/or clicks (box first).

        The one verb the plugin and the command line use. With neither, the
        frame's prompt is cleared, and an object left without any prompt is
        removed from the session.
        """
        has_points = points is not None and np.size(points) > 0
        if box is None and not has_points:
            frame = self._frame(frame)
            with self._lock:
                if obj_id not in self.bank:
                    return self._result(frame)
                self.clear_frame(frame, obj_id)
                if not self.prompted_frames(obj_id):
                    self.remove_object(obj_id)
                return self._result(frame)
        if labels is None and has_points:
            labels = np.ones(max(np.size(points) // 2, 1), np.int32)  # all positive
        # Validate both parts first so a bad click never leaves the box half set.
        if has_points:
            make_points(points, labels, self.frame_shape)
        if box is not None:
            make_box(box, self.frame_shape)
        with self._lock:
            if box is None:
                return self.add_points(frame, obj_id, points, labels)
            result = self.add_box(frame, obj_id, box)
            if has_points:
                result = self.add_points(frame, obj_id, points, labels, clear=False)
            return result

    def add_mask(self, frame: int, obj_id: int, mask) -> FrameResult:
        """A mask ``(H, W)``; all False declares the object absent on that frame."""
        frame = self._frame(frame)
        prompt = make_mask(mask, self.frame_shape)
        obj_id = check_obj_id(obj_id)
        with self._lock:
            return self._interact(obj_id, frame, prompt)

    def _interact(self, obj_id: int, frame: int, prompt) -> FrameResult:
        feats = self.features(frame)
        new = obj_id not in self.bank
        self.bank.add_object(obj_id)
        try:
            with torch.inference_mode():
                mem, cands = self._tracker.interact(feats, obj_id, frame, prompt)
        except BaseException:
            if new:  # a failed first prompt leaves no empty object behind
                self.bank.remove_object(obj_id)
            raise
        self.bank.record_prompt(obj_id, frame, prompt, self._postprocess_memory(mem), cands)
        return self._result(frame)

    def _postprocess_memory(self, mem: FrameMemory) -> FrameMemory:
        if self.fill_hole_area > 0:
            mem.mask_logits = fill_holes_in_logits(mem.mask_logits, self.fill_hole_area)
        return mem

    # -- ambiguity ------------------------------------------------------------
    def candidates(self, frame: int, obj_id: int) -> ImagePrediction | None:
        """The candidate masks of the last single click on ``frame`` (None if none)."""
        frame = self._frame(frame)
        cands = self.bank.candidates(self._known(obj_id), frame)
        return None if cands is None else candidate_prediction(cands, self.frame_shape)

    def select_candidate(self, frame: int, obj_id: int, index: int) -> FrameResult:
        """Make candidate ``index`` the mask of ``obj_id`` on ``frame`` (the one propagated)."""
        frame = self._frame(frame)
        with self._lock:
            obj_id = self._known(obj_id)
            cands = self.bank.candidates(obj_id, frame)
            if cands is None:
                raise ValueError(
                    f"object {obj_id} has no candidate masks on frame {frame}; click once first"
                )
            n = len(cands.ious)
            integer = isinstance(index, (int, np.integer)) and not isinstance(index, bool)
            if not (integer and 0 <= index < n):
                raise ValueError(f"candidate index must be 0..{n - 1}, got {index!r}")
            self._postprocess_memory(self.bank.choose_candidate(obj_id, frame, int(index)))
            return self._result(frame)

    # -- propagation ----------------------------------------------------------
    def _consolidate(self) -> None:
        """Encode the memories of prompted frames and make them conditioning frames."""
        if not self.obj_ids:
            raise ValueError("no objects yet: add points, a box or a mask first")

        def encode(frame: int, shown: FrameMemory) -> FrameMemory:
            with torch.inference_mode():
                return self._tracker.encode_prompted(self.features(frame), shown)

        self.bank.commit_prompted(encode)

    def propagate(
        self, start: int | None = None, reverse: bool = False, max_frames: int | None = None,
        obj_ids=None,
    ) -> Iterator[FrameResult]:
        """Track every object (or those of ``obj_ids``) frame by frame from ``start``; yields
        one result per frame. ``start`` defaults to the earliest prompted frame;
        ``max_frames`` limits how many frames past ``start`` are visited.
        """
        with self._lock:
            self._consolidate()
            if start is None:
                start = self._first_conditioning_frame()
            start = self._frame(start)
            n = self.num_frames if max_frames is None else int(max_frames)
            if n < 0:
                raise ValueError(f"max_frames must be >= 0, got {max_frames}")
            order = frame_order(start, reverse, n, self.num_frames)
            only = None if obj_ids is None else {self._known(o) for o in obj_ids}
        run = None if self.memory_tree is None else LongStackRun(
            self.bank, self._tracker, self.memory_tree, Direction.of(reverse),
            self._postprocess_memory)
        try:
            for i, frame in enumerate(order):
                with self._lock:
                    for ahead in (f for f in order[i : i + 2] if f not in self.feature_cache):
                        self.inputs.ahead(ahead)  # this frame's input, then the next
                    self._propagate_frame(frame, reverse, run, only)
                    result = self._result(frame)
                yield result
        finally:
            if run is not None:  # also when cancelled: every visited frame gets the best path
                with self._lock:
                    changed = run.finish()
        # Long-stack mode: frames whose final answer differs from the provisional one, again.
        for frame in changed if run is not None else ():
            with self._lock:
                result = self._result(frame)
            yield result

    def _first_conditioning_frame(self) -> int:
        return min(f for obj_id in self.obj_ids for f in self.bank.conditioning_frames(obj_id))

    def _propagate_frame(self, frame: int, reverse: bool, run: LongStackRun | None = None,
                         only: set[int] | None = None) -> None:
        direction = Direction.of(reverse)
        to_track = [o for o in self.obj_ids if not self.bank.is_conditioning(o, frame)
                    and (only is None or o in only)]
        if to_track and run is not None:
            with torch.inference_mode():
                run.track(self.features(frame), to_track, frame)
        elif to_track:
            feats = self.features(frame)
            with torch.inference_mode():
                mems = self._tracker.track(feats, to_track, frame, direction)
            for obj_id, mem in zip(to_track, mems):
                self.bank.store_tracked(obj_id, frame, self._postprocess_memory(mem))
        self.bank.mark_visited(frame, direction, only)

    def propagate_both(self, start: int | None = None) -> Iterator[FrameResult]:
        """Forward from ``start`` to the end, then backward from ``start`` to frame 0."""
        if start is None:
            with self._lock:
                self._consolidate()
                start = self._first_conditioning_frame()
        yield from self.propagate(start)
        yield from self.propagate(start, reverse=True)

    # -- editing --------------------------------------------------------------
    def remove_object(self, obj_id: int) -> None:
        with self._lock:
            obj_id = self._known(obj_id)
            self.bank.remove_object(obj_id)
            self._tracker.forget(obj_id)

    def clear_frame(self, frame: int, obj_id: int | None = None) -> FrameResult:
        """Remove prompts on ``frame`` (of one object or all); its mask becomes a tracked one."""
        frame = self._frame(frame)
        with self._lock:
            obj_ids = [self._known(obj_id)] if obj_id is not None else self.obj_ids
            for obj in obj_ids:
                self.bank.clear_prompt(obj, frame)
            return self._result(frame)

    def reset(self) -> None:
        """Forget all objects and prompts (encoded frames stay cached)."""
        with self._lock:
            self.bank.reset()
            self._tracker.forget()

    # -- results --------------------------------------------------------------
    def result(self, frame: int) -> FrameResult:
        """The current masks of every object on ``frame`` (empty where an object has none)."""
        frame = self._frame(frame)
        with self._lock:
            return self._result(frame)

    def _result(self, frame: int) -> FrameResult:
        """Masks of all objects on ``frame`` (absent objects get empty masks)."""
        ids = self.obj_ids
        return frame_result(
            frame,
            ids,
            [self.bank.latest(o, frame) for o in ids],
            self.model.cfg.low_res_mask_size,
            self.frame_shape,
            self.non_overlap,
        )
