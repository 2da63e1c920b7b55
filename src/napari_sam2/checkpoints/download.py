"""The per-user checkpoint cache and verified, resumable downloads.

``resolve_checkpoint(name)`` returns the path of a checkpoint file: a file or
folder the user gave, else the cached copy, else a fresh download. Downloads
go to ``<cache>/<file>.part`` (resumed with an HTTP Range request after an
interruption) and are moved into place with ``os.replace`` only after the
SHA-256 (SAM 2.1) or a structural check (SAM 2, no published hash) passed, so
a half-written or wrong file is never used.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from napari_sam2.checkpoints.errors import (
    CheckpointChecksumError,
    CheckpointDownloadError,
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointOfflineError,
)
from napari_sam2.checkpoints.reading import check_file_format, read_state_dict
from napari_sam2.checkpoints.registry import CheckpointInfo, checkpoint_info, packaged_path

log = logging.getLogger(__name__)

ENV_CACHE_DIR = "NAPARI_SAM2_CACHE_DIR"
ENV_BASE_URL = "NAPARI_SAM2_BASE_URL"
TIMEOUT_S = 60.0  # per socket operation, not for the whole download
_CHUNK = 1 << 20

#: ``(done_bytes, total_bytes or None) -> None``; napari adapters pass one.
ProgressCallback = Callable[[int, int | None], None]

_cache_dir_setting: Path | None = None


def cache_dir() -> Path:
    """Where downloaded checkpoints live: ``set_cache_dir``, else $NAPARI_SAM2_CACHE_DIR,
    else the per-user cache (e.g. ``~/.cache/napari-sam2`` on Linux)."""
    if _cache_dir_setting is not None:
        return _cache_dir_setting
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("napari-sam2"))


def set_cache_dir(path: str | os.PathLike | None) -> None:
    """Use ``path`` as the checkpoint cache for this process (None: back to the default)."""
    global _cache_dir_setting
    _cache_dir_setting = None if path is None else Path(path).expanduser()


def cached_path(preset: str) -> Path | None:
    """The cached checkpoint of ``preset``, or None when it has not been downloaded."""
    path = cache_dir() / checkpoint_info(preset).filename
    return path if path.is_file() else None


def checkpoint_url(preset: str, base_url: str | None = None) -> str:
    """Download URL: ``base_url`` argument, else $NAPARI_SAM2_BASE_URL, else Meta's server."""
    info = checkpoint_info(preset)
    base = base_url or os.environ.get(ENV_BASE_URL)
    return f"{base.rstrip('/')}/{info.filename}" if base else info.url


def resolve_checkpoint(
    preset: str,
    checkpoint: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool | ProgressCallback = True,
    base_url: str | None = None,
) -> Path:
    """Path of the checkpoint file to load for ``preset``.

    ``checkpoint`` may be a file (any checkpoint in the official format, e.g. a
    fine-tuned one) or a folder holding the official file name. Without it the
    cache is used, downloading into it when ``download`` is true.
    """
    info = checkpoint_info(preset)
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if path.is_dir():
            found = path / info.filename
            if not found.is_file():
                have = sorted(p.name for p in path.glob("*.pt")) or ["no .pt files"]
                raise CheckpointNotFoundError(
                    f"folder {path} has no {info.filename} (it holds: {', '.join(have)}); "
                    f"pass the file itself with checkpoint=PATH (--checkpoint PATH)"
                )
            path = found
        elif not path.is_file():
            raise CheckpointNotFoundError(
                f"checkpoint file not found: {path}; check the path, or give none to use "
                f"the download cache"
            )
        check_file_format(path)
        return path
    if info.packaged:
        path = packaged_path(info)
        if not path.is_file():
            raise CheckpointNotFoundError(
                f"the {info.preset} model is not in this installation ({path} is missing); "
                "train it with `napari-sam2 train --generator --recipe demo --export FILE` "
                "(docs/training.md) and pass FILE with checkpoint=FILE (--checkpoint FILE)"
            )
        check_file_format(path)
        return path
    cached = cached_path(info.preset)
    if cached is not None:
        check_file_format(cached)
        return cached
    if not download:
        raise CheckpointOfflineError(
            _missing_message(info, checkpoint_url(preset, base_url), "downloads are disabled")
        )
    return _download(info, progress=progress, base_url=base_url, timeout=TIMEOUT_S)


def download_checkpoint(
    preset: str,
    *,
    progress: bool | ProgressCallback = True,
    base_url: str | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download ``preset``'s checkpoint into the cache, verify it, and return its path."""
    if checkpoint_info(preset).packaged:
        return resolve_checkpoint(preset)  # ships with the package: nothing to download
    return _download(checkpoint_info(preset), progress=progress, base_url=base_url,
                     timeout=timeout)


def _download(info: CheckpointInfo, *, progress, base_url: str | None, timeout: float) -> Path:
    url = checkpoint_url(info.preset, base_url)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{info.filename}.part"
    _fetch(info, url, part, progress, timeout)
    digest = _sha256(part)
    try:
        if info.sha256 is not None and digest != info.sha256:
            raise CheckpointChecksumError(
                f"downloaded {url} but its SHA-256 is {digest}, expected {info.sha256}; "
                f"the file was corrupted in transit or replaced on the server, and was "
                f"deleted: run again, or download it elsewhere and pass it with checkpoint=PATH"
            )
        if info.size_bytes is not None and part.stat().st_size != info.size_bytes:
            raise CheckpointChecksumError(
                f"downloaded {url} but it has {part.stat().st_size} bytes, expected "
                f"{info.size_bytes}; it was deleted: run again"
            )
        if info.sha256 is None:
            check_checkpoint_structure(part)
    except CheckpointError:
        part.unlink(missing_ok=True)
        raise
    if info.sha256 is None:
        log.info("%s has no published hash; its SHA-256 is %s", info.filename, digest)
    target = folder / info.filename
    os.replace(part, target)
    return target


def _fetch(info, url, part: Path, progress, timeout: float, *, _retry: bool = True) -> None:
    """Fetch ``url`` into ``part``, resuming from the bytes already there."""
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "napari-sam2"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset and _retry:  # stale partial file: start over
            part.unlink(missing_ok=True)
            return _fetch(info, url, part, progress, timeout, _retry=False)
        raise CheckpointDownloadError(
            f"downloading {url} failed: HTTP {err.code} {err.reason}; check the URL "
            f"(${ENV_BASE_URL}) or download the file elsewhere and pass it with checkpoint=PATH"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise CheckpointOfflineError(_missing_message(info, url, str(reason))) from err
    with response:
        if offset and response.status != 206:  # server ignored Range: restart
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        report = _progress_reporter(progress, info.filename, offset, total)
        done = offset
        try:
            with open(part, "ab" if offset else "wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    report(done, total)
        except (http.client.HTTPException, OSError) as err:
            raise CheckpointDownloadError(
                f"download of {url} was interrupted after {done} of {total or '?'} bytes "
                f"({err.__class__.__name__}); run again to resume"
            ) from err
        finally:
            report(None, None)
    if total is not None and done < total:
        raise CheckpointDownloadError(
            f"download of {url} ended after {done} of {total} bytes; run again to resume"
        )


def _progress_reporter(progress, desc: str, initial: int, total: int | None):
    """A ``(done, total)`` function; ``(None, None)`` closes it."""
    if callable(progress):
        return lambda done, tot: None if done is None else progress(done, tot)
    if not progress:
        return lambda done, tot: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
               unit_divisor=1024, file=sys.stderr)

    def report(done, tot):
        if done is None:
            bar.close()
        else:
            bar.update(done - bar.n)

    return report


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_checkpoint_structure(path: Path) -> None:
    """Read ``path`` safely and check it holds a state dict (for files without a
    published hash; the strict key/shape check comes when the model loads it)."""
    read_state_dict(path)  # raises CheckpointCorruptError naming the problem


def _missing_message(info: CheckpointInfo, url: str, reason: str) -> str:
    target = cache_dir() / info.filename
    return (
        f"checkpoint {info.filename} for model {info.preset!r} is not in the cache and could "
        f"not be downloaded from {url} ({reason}). "
        f"Download it elsewhere and either copy it to {target} (the cache folder; set "
        f"${ENV_CACHE_DIR} to use another), or pass its path or folder: "
        f"load_model({info.preset!r}, checkpoint='/path/to/{info.filename}') "
        f"or `napari-sam2 segment --checkpoint PATH`."
    )
