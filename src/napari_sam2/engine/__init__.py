"""The engine: SAM 2 on lazy stacks, with no napari and no Qt.

What a caller needs, by task:

* frames: :func:`open_frames` / :class:`FrameSource` (lazy 2-D frames out of
  any array or file), :class:`Normalization` and :func:`to_model_input`
  (one frame -> the encoder's input);
* prompts: :func:`make_points`, :func:`make_box`, :func:`make_mask` ->
  :class:`PointPrompt` / :class:`MaskPrompt`; prompt files with
  :func:`read_prompts` / :func:`write_prompts` / :func:`check_prompts_fit`
  of :class:`PromptRecord`;
* segmenting: :class:`VideoSession` (stacks, propagation) and
  :class:`ImagePredictor` (one image), returning :class:`FrameResult` /
  :class:`ImagePrediction`; :class:`AutoMaskGenerator` (every object on
  one frame from a grid of clicks, :class:`AutoMaskSettings`, returning
  :class:`MaskRecord`);
* caches: :class:`FeatureCache` (encoder features, RAM and disk) over
  :class:`TensorStore`.

Bad input raises ``ValueError`` with a one-line message that names the
problem and the fix (``FileNotFoundError`` for a missing prompts file;
:class:`MissingFileError`, :class:`UnreadableFileError` and
:class:`FrameIndexError` are ValueErrors too).

Names load on first use (torch-free modules such as ``frames`` and
``prompt_file`` stay torch-free to import). Inside the package, import from
the defining module (``from napari_sam2.engine.session import VideoSession``),
not from here.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# name -> defining module (checked by tests/test_layering.py)
_EXPORTS = {
    "FrameSource": "napari_sam2.engine.frames",
    "MissingFileError": "napari_sam2.engine.frames",
    "UnreadableFileError": "napari_sam2.engine.frames",
    "FrameIndexError": "napari_sam2.engine.frames",
    "open_frames": "napari_sam2.engine.frames",
    "Normalization": "napari_sam2.engine.preprocess",
    "to_model_input": "napari_sam2.engine.preprocess",
    "PointPrompt": "napari_sam2.engine.prompts",
    "MaskPrompt": "napari_sam2.engine.prompts",
    "make_points": "napari_sam2.engine.prompts",
    "make_box": "napari_sam2.engine.prompts",
    "make_mask": "napari_sam2.engine.prompts",
    "PromptRecord": "napari_sam2.engine.prompt_file",
    "read_prompts": "napari_sam2.engine.prompt_file",
    "write_prompts": "napari_sam2.engine.prompt_file",
    "check_prompts_fit": "napari_sam2.engine.prompt_file",
    "FrameResult": "napari_sam2.engine.results",
    "ImagePrediction": "napari_sam2.engine.results",
    "VideoSession": "napari_sam2.engine.session",
    "ImagePredictor": "napari_sam2.engine.image_predictor",
    "FeatureCache": "napari_sam2.engine.feature_cache",
    "ConfidenceTrack": "napari_sam2.engine.confidence",
    "LowConfidence": "napari_sam2.engine.confidence",
    "confidence_tracks": "napari_sam2.engine.confidence",
    "RetrackPlan": "napari_sam2.engine.retrack",
    "plan_retrack": "napari_sam2.engine.retrack",
    "run_retrack": "napari_sam2.engine.retrack",
    "TensorStore": "napari_sam2.engine.store",
    "MemoryBank": "napari_sam2.engine.memory_bank",
    "MemoryTree": "napari_sam2.engine.memory_tree",
    "PropagationPlan": "napari_sam2.engine.plan",
    "make_plan": "napari_sam2.engine.plan",
    "SegmentOptions": "napari_sam2.engine.runner",
    "segment_stack": "napari_sam2.engine.runner",
    "AutoMaskGenerator": "napari_sam2.engine.automask",
    "AutoMaskSettings": "napari_sam2.engine.automask",
    "MaskRecord": "napari_sam2.engine.automask",
    "seed_from_labels": "napari_sam2.engine.seeding",
    "LabelStack": "napari_sam2.engine.seeding",
    "TrackGraph": "napari_sam2.engine.lineage",
    "ReseedRules": "napari_sam2.engine.lineage",
    "TrackAllOptions": "napari_sam2.engine.track_all",
    "TrackAllResult": "napari_sam2.engine.track_all",
    "run_track_all": "napari_sam2.engine.track_all",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from napari_sam2.engine.automask import AutoMaskGenerator, AutoMaskSettings, MaskRecord
    from napari_sam2.engine.confidence import ConfidenceTrack, LowConfidence, confidence_tracks
    from napari_sam2.engine.feature_cache import FeatureCache
    from napari_sam2.engine.frames import (
        FrameIndexError,
        FrameSource,
        MissingFileError,
        UnreadableFileError,
        open_frames,
    )
    from napari_sam2.engine.image_predictor import ImagePredictor
    from napari_sam2.engine.lineage import ReseedRules, TrackGraph
    from napari_sam2.engine.memory_bank import MemoryBank
    from napari_sam2.engine.memory_tree import MemoryTree
    from napari_sam2.engine.plan import PropagationPlan, make_plan
    from napari_sam2.engine.preprocess import Normalization, to_model_input
    from napari_sam2.engine.prompt_file import (
        PromptRecord,
        check_prompts_fit,
        read_prompts,
        write_prompts,
    )
    from napari_sam2.engine.prompts import MaskPrompt, PointPrompt, make_box, make_mask, make_points
    from napari_sam2.engine.results import FrameResult, ImagePrediction
    from napari_sam2.engine.retrack import RetrackPlan, plan_retrack, run_retrack
    from napari_sam2.engine.runner import SegmentOptions, segment_stack
    from napari_sam2.engine.seeding import LabelStack, seed_from_labels
    from napari_sam2.engine.session import VideoSession
    from napari_sam2.engine.store import TensorStore
    from napari_sam2.engine.track_all import TrackAllOptions, TrackAllResult, run_track_all


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        # Not cached here: the defining module stays the one source (monkeypatch-friendly).
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'napari_sam2.engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_EXPORTS)
