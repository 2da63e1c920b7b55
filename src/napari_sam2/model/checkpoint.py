"""Loading official SAM 2 checkpoints (``{"model": state_dict}``) strictly."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from napari_sam2.model.sam2 import SAM2Model


_WRAPPER_KEYS = ("model", "state_dict", "model_state")


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the chosen preset (missing, extra or misshapen tensors)."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict inside an official checkpoint file (weights only, no pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError) as exc:
        raise ValueError(
            f"{path} is not a readable PyTorch checkpoint (truncated or another format?): {exc}"
        ) from exc
    # Official files hold {"model": ...}; training scripts of fine-tuned models
    # (micro-sam, MedSAM2, ...) also write "state_dict" or "model_state".
    for wrapper in _WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path} is not a SAM 2 checkpoint: expected {{'model': state_dict}}")
    # Saved from a DistributedDataParallel wrapper: every key starts with "module.".
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return obj


def _first(keys, n: int = 5) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def check_state_dict(model: SAM2Model, state: dict[str, torch.Tensor], source: str) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``state`` fits ``model`` exactly."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = expected.keys() - state.keys()
    extra = state.keys() - expected.keys()
    wrong = [k for k in expected.keys() & state.keys() if tuple(state[k].shape) != expected[k]]
    if not (missing or extra or wrong):
        return
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensor(s): {_first(missing)}")
    if extra:
        problems.append(f"{len(extra)} unexpected tensor(s): {_first(extra)}")
    if wrong:
        k = sorted(wrong)[0]
        problems.append(
            f"{len(wrong)} tensor(s) of the wrong shape, e.g. {k}: "
            f"checkpoint {tuple(state[k].shape)} vs model {expected[k]}"
        )
    hint = " Is this checkpoint for another model size or release?" if wrong or missing else ""
    raise CheckpointMismatchError(
        f"checkpoint {source} does not fit preset {model.cfg.name!r}: " + "; ".join(problems) + "." + hint
    )


def load_weights(model: SAM2Model, path: str | Path) -> SAM2Model:
    """Load an official-format checkpoint file into ``model`` strictly."""
    state = read_state_dict(path)
    check_state_dict(model, state, str(path))
    model.load_state_dict(state, strict=True)
    return model
