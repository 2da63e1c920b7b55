"""``load_model``: a preset, its checkpoint (local or downloaded), strictly loaded."""

from __future__ import annotations

from pathlib import Path

import torch

from napari_sam2.checkpoints.download import ProgressCallback, resolve_checkpoint
from napari_sam2.checkpoints.errors import CheckpointMismatchError
from napari_sam2.checkpoints.reading import read_state_dict
from napari_sam2.engine.device import pick_device
from napari_sam2.model import SAM2Model, build_model, get_config
from napari_sam2.model.checkpoint import state_dict_mismatch
from napari_sam2.model.precision import cpu_supports_bfloat16

PRECISIONS = ("float32", "bfloat16")


def load_model(
    name: str = "sam2.1_hiera_tiny",
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
    *,
    image_size: int | None = None,
    download: bool = True,
    progress: bool | ProgressCallback = True,
    precision: str = "float32",
) -> SAM2Model:
    """A SAM 2 model of preset ``name`` with its weights loaded strictly.

    ``checkpoint``: a ``.pt`` file (an official one, or a fine-tuned one in
    the same format, e.g. micro-sam or MedSAM2 with the matching preset), or
    a folder holding the official file name. Without it the per-user cache
    is used and the official file downloaded if missing.
    ``image_size``: a reduced input size (same weights, faster, coarser).
    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` (the best present).
    ``progress``: a download's progress bar on the console (True), none
    (False), or a ``(done_bytes, total_bytes)`` callback.
    ``precision``: ``"float32"`` (the default; on a GPU without TF32, so it
    matches the CPU) or ``"bfloat16"`` (on a CUDA GPU: 1.3 to 2 times as fast
    on an H100, a third less GPU memory; on a CPU with bfloat16 units, AVX-512
    BF16, AMX or Apple M2 and later: up to about 3 times as fast; masks
    slightly different from float32's).

    Every problem with the checkpoint raises a
    :class:`~napari_sam2.checkpoints.errors.CheckpointError` with a one-line message.
    """
    cfg = get_config(name)
    if image_size is not None:
        cfg.with_image_size(image_size)  # a bad size fails before any download
    dev = pick_device(device)
    _compute_dtype(precision, dev)  # bad precision: fail before any download
    path = resolve_checkpoint(cfg.name, checkpoint, download=download, progress=progress)
    model = load_weights(build_model(cfg, image_size=image_size), path)
    return set_precision(model.to(dev).eval(), precision)


def load_weights(model: SAM2Model, path: str | Path) -> SAM2Model:
    """Load a checkpoint file into ``model`` strictly (every tensor, exact shapes)."""
    state = read_state_dict(path)
    problem = state_dict_mismatch(model, state)
    if problem:
        raise CheckpointMismatchError(
            f"checkpoint {path} does not fit preset {model.cfg.name!r}: {problem}; pick the "
            f"preset it was made for (another model size or release?)"
        )
    model.load_state_dict(state, strict=True)
    return model


def set_precision(model: SAM2Model, precision: str) -> SAM2Model:
    """Make ``model`` compute in ``precision`` from now on.

    bfloat16 casts the weights of its matmuls once; such a model cannot go
    back to float32 (load it again). See :meth:`SAM2Model.use_compute_dtype`.
    """
    model.use_compute_dtype(_compute_dtype(precision, model.device))
    return model


def _compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "bfloat16" and not bfloat16_supported(device):
        where = "this CPU has none" if device.type == "cpu" else f"the model is on {device.type!r}"
        raise ValueError(
            "precision 'bfloat16' needs a CUDA GPU or a CPU with bfloat16 units "
            f"(AVX-512 BF16, AMX, Apple M2 or later); {where} (use 'float32')"
        )
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


def bfloat16_supported(device: str | torch.device) -> bool:
    """Whether ``precision="bfloat16"`` runs natively (faster than float32) on ``device``."""
    device = torch.device(device)
    return device.type == "cuda" or (device.type == "cpu" and cpu_supports_bfloat16())
