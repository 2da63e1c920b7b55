"""Reading the state dict out of a checkpoint file, safely and with clear errors.

Files are unpickled with ``torch.load(weights_only=True)`` only: nothing but
tensors and plain containers is ever built. Before that, the first bytes
tell an empty file, an HTML error page, a git-LFS pointer or a text file
apart from a PyTorch file, so those get a message saying what went wrong
instead of torch's unpickler errors (whose advice to turn ``weights_only``
off is unsafe for files from the internet and is never passed on).
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from napari_sam2.checkpoints.errors import CheckpointCorruptError, CheckpointNotFoundError

# Official files hold {"model": ...}; training scripts of fine-tuned models
# (micro-sam, MedSAM2, ...) also write "state_dict" or "model_state".
_WRAPPER_KEYS = ("model", "state_dict", "model_state")
_HEAD_BYTES = 512
_LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
# A reference to these modules means a crafted file, not training metadata:
# refused outright instead of being read with placeholders.
_NEVER_IGNORED = ("os", "sys", "posix", "nt", "subprocess")


def check_file_format(path: str | Path) -> None:
    """Cheap check that ``path`` looks like a complete PyTorch file (nothing is loaded).

    Files saved by ``torch.save`` are zip archives whose directory sits at the
    end, so a truncated download fails here; legacy files start with a pickle.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise CheckpointCorruptError(
            f"{path} is empty (0 bytes): an interrupted download or copy; download it again"
        )
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    if zipfile.is_zipfile(path) or head[:1] == b"\x80":
        return
    raise CheckpointCorruptError(f"{path} {_describe_foreign(head, size)}")


def _describe_foreign(head: bytes, size: int) -> str:
    """What a file that is not a PyTorch checkpoint looks like, and what to do."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(_LFS_MAGIC):
        return ("is a git-LFS pointer, not the checkpoint itself: run `git lfs pull` in the "
                "repository it came from, or download the file directly")
    if text.startswith((b"<!doctype html", b"<html")) or (text[:1] == b"<" and b"<html" in text):
        return ("is an HTML page, not a checkpoint: the download failed (an error or sign-in "
                "page was saved in its place); download the file again")
    if text.startswith((b"<?xml", b"<error")):
        return ("is an XML error page, not a checkpoint: the download failed (the server "
                "refused it); download the file again")
    if head.startswith(b"PK\x03\x04"):
        return ("is a truncated or damaged zip archive, not a complete checkpoint: the "
                "download or copy was cut short; download it again")
    if _looks_like_text(head):
        return (f"is a {size}-byte text file, not a PyTorch checkpoint: pass the .pt file of "
                f"a SAM 2 model")
    return ("is not a PyTorch checkpoint (neither a zip archive nor a pickle): corrupted or "
            "another kind of file; download it again or pass the .pt file of a SAM 2 model")


def _looks_like_text(head: bytes) -> bool:
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in decoded)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of the state dict inside a checkpoint file.

    Accepts ``{"model": sd}`` (official), ``{"state_dict": sd}``,
    ``{"model_state": sd}`` or a bare ``sd``; a ``module.`` prefix (saved from
    ``DistributedDataParallel``) is removed. Everything else in the file
    (epoch, optimizer, training arguments, non-tensor values) is ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"checkpoint file not found: {path}; check the path, or give none to use the "
            f"download cache"
        )
    check_file_format(path)
    obj = _load(path)
    return _state_dict_of(obj, path)


def _load(path: Path) -> object:
    with warnings.catch_warnings():
        # On a damaged file torch warns about an odd pickle protocol and asks
        # for an issue to be filed; the error that follows says it better.
        warnings.filterwarnings("ignore", message="Detected pickle protocol")
        return _load_weights_only(path)


def _load_weights_only(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # Training scripts often store objects such as argparse.Namespace or
        # numpy scalars beside the weights; read those as inert placeholders.
        names = _foreign_globals(path)
        if not names:
            raise _unreadable(path, err) from None
        blocked = sorted(n for n in names if n.split(".")[0] in _NEVER_IGNORED)
        if blocked:
            raise CheckpointCorruptError(
                f"{path} refers to code ({', '.join(blocked[:3])}) that is never loaded: "
                f"it is not a plain checkpoint; save only model.state_dict() with torch.save"
            ) from None
        try:
            with torch.serialization.safe_globals([(_Ignored, n) for n in names]):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err2:  # noqa: BLE001 - torch raises many kinds for a bad file
            raise _unreadable(path, err2) from None
    except Exception as err:  # noqa: BLE001 - a damaged file fails anywhere: KeyError, EOFError...
        raise _unreadable(path, err) from None


def _foreign_globals(path: Path) -> list[str]:
    """Classes/functions a zip checkpoint refers to that weights-only loading refuses."""
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001 - legacy (non-zip) files, or a torch without this helper
        return []


class _Ignored:
    """An inert placeholder for an object a checkpoint stores beside its tensors.

    It runs no code of the original class: construction and state are dropped.
    """

    def __new__(cls, *args: object, **kwargs: object) -> _Ignored:  # noqa: PYI034
        return super().__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


def _unreadable(path: Path, err: BaseException) -> CheckpointCorruptError:
    return CheckpointCorruptError(
        f"{path} could not be read as a PyTorch checkpoint ({_short_cause(err)}): it is "
        f"truncated, corrupted or not a checkpoint; download it again"
    )


def _short_cause(err: BaseException) -> str:
    """The gist of torch's error, one line, without its advice on ``weights_only``."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not line or "weights_only" in line or "Weights only load failed" in line:
        return type(err).__name__
    line = line.split(". Please use", 1)[0]  # torch's allow-list advice
    return f"{type(err).__name__}: {line[:160]}"


def _state_dict_of(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for wrapper in _WRAPPER_KEYS:
            inner = obj.get(wrapper)
            has_tensors = isinstance(inner, Mapping) and any(
                isinstance(v, torch.Tensor) for v in inner.values()
            )
            if has_tensors:
                obj = inner
                break
    if not isinstance(obj, Mapping):
        raise CheckpointCorruptError(
            f"{path} is not a SAM 2 checkpoint: it holds a {type(obj).__name__}, not a state "
            f"dict; save it with torch.save({{'model': model.state_dict()}}, path)"
        )
    # Only the tensors count: epochs, notes and other values beside them are ignored.
    state = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not state:
        keys = ", ".join(sorted(map(str, obj))[:5]) or "none"
        raise CheckpointCorruptError(
            f"{path} is not a SAM 2 checkpoint: it holds no tensors (top-level keys: {keys}); "
            f"save it with torch.save({{'model': model.state_dict()}}, path)"
        )
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state
