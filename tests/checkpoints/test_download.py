"""Checkpoint cache, resolving and verified downloads against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
from pathlib import Path

import pytest
import torch

from napari_sam2 import checkpoints
from napari_sam2.checkpoints import (
    CheckpointChecksumError,
    CheckpointCorruptError,
    CheckpointDownloadError,
    CheckpointNotFoundError,
    CheckpointOfflineError,
)
from tests.checkpoints.http_server import CheckpointServer

PRESET = "sam2.1_hiera_tiny"
FILE = f"{PRESET}.pt"


def _fake_checkpoint(tmp_path: Path) -> bytes:
    # Big enough for several 1 MiB chunks, so progress is reported more than once.
    path = tmp_path / "fake.pt"
    torch.save({"model": {"w": torch.arange(700_000, dtype=torch.float32)}}, path)
    return path.read_bytes()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NAPARI_SAM2_CACHE_DIR", str(folder))
    monkeypatch.delenv("NAPARI_SAM2_BASE_URL", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    checkpoints.set_cache_dir(None)
    return folder


@pytest.fixture
def body(tmp_path):
    return _fake_checkpoint(tmp_path)


@pytest.fixture
def server(body):
    srv = CheckpointServer(body)
    yield srv
    srv.close()


@pytest.fixture
def known_hash(body, monkeypatch):
    entry = dataclasses.replace(
        checkpoints.REGISTRY[PRESET], sha256=hashlib.sha256(body).hexdigest()
    )
    monkeypatch.setitem(checkpoints.REGISTRY, PRESET, entry)


def test_cache_dir_env_and_setting(cache, tmp_path):
    assert checkpoints.cache_dir() == cache
    checkpoints.set_cache_dir(tmp_path / "other")
    try:
        assert checkpoints.cache_dir() == tmp_path / "other"
    finally:
        checkpoints.set_cache_dir(None)
    assert checkpoints.cache_dir() == cache


def test_download_progress_hash_and_reuse(cache, server, body, known_hash):
    calls = []
    path = checkpoints.resolve_checkpoint(
        PRESET, progress=lambda done, total: calls.append((done, total)), base_url=server.url
    )
    assert path == cache / FILE and path.read_bytes() == body
    assert len(calls) >= 2 and calls[-1] == (len(body), len(body))
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert sorted(p.name for p in cache.iterdir()) == [FILE]  # no temporary left
    assert checkpoints.cached_path(PRESET) == path
    n = len(server.requests)
    assert checkpoints.resolve_checkpoint(PRESET, base_url=server.url) == path
    assert len(server.requests) == n  # the cache answered


def test_base_url_from_env(cache, server, known_hash, monkeypatch):
    monkeypatch.setenv("NAPARI_SAM2_BASE_URL", server.url)
    assert checkpoints.resolve_checkpoint(PRESET, progress=False).is_file()
    assert server.requests[0]["path"] == f"/{FILE}"


def test_tqdm_progress(cache, server, known_hash, capsys):
    checkpoints.download_checkpoint(PRESET, progress=True, base_url=server.url)
    assert FILE in capsys.readouterr().err


def test_corrupted_download_is_not_kept(cache, server, known_hash):
    server.mode = "corrupt"
    with pytest.raises(CheckpointChecksumError, match="SHA-256.*deleted"):
        checkpoints.download_checkpoint(PRESET, progress=False, base_url=server.url)
    assert list(cache.iterdir()) == []
    assert checkpoints.cached_path(PRESET) is None


def test_wrong_size_is_not_kept(cache, server, body, known_hash, monkeypatch):
    entry = dataclasses.replace(checkpoints.REGISTRY[PRESET], size_bytes=len(body) + 1)
    monkeypatch.setitem(checkpoints.REGISTRY, PRESET, entry)
    with pytest.raises(CheckpointChecksumError, match=f"{len(body)} bytes, expected"):
        checkpoints.download_checkpoint(PRESET, progress=False, base_url=server.url)
    assert list(cache.iterdir()) == []


def test_http_error_is_a_download_error(cache, server):
    server.mode = "missing"
    with pytest.raises(CheckpointDownloadError, match="HTTP 404") as exc:
        checkpoints.download_checkpoint(PRESET, progress=False, base_url=server.url)
    assert "\n" not in str(exc.value)
    assert list(cache.iterdir()) == []


def test_dropped_connection_then_resume(cache, server, body, known_hash):
    server.mode = "drop"
    with pytest.raises(CheckpointDownloadError, match="interrupted|ended after"):
        checkpoints.download_checkpoint(PRESET, progress=False, base_url=server.url)
    assert checkpoints.cached_path(PRESET) is None  # only the .part file, never used
    assert [p.name for p in cache.iterdir()] == [f"{FILE}.part"]
    server.mode = "ok"
    path = checkpoints.download_checkpoint(PRESET, progress=False, base_url=server.url)
    assert server.requests[-1]["range"] == f"bytes={len(body) // 2}-"
    assert path.read_bytes() == body
    assert sorted(p.name for p in cache.iterdir()) == [FILE]


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_offline_error_says_what_to_do(cache):
    with pytest.raises(CheckpointOfflineError) as exc:
        checkpoints.resolve_checkpoint(PRESET, progress=False, base_url=_closed_port_url())
    msg = str(exc.value)
    assert FILE in msg and "NAPARI_SAM2_CACHE_DIR" in msg and "checkpoint=" in msg
    assert str(cache) in msg and "\n" not in msg  # one line, as the CLI prints it
    assert isinstance(exc.value, CheckpointDownloadError)
    with pytest.raises(CheckpointOfflineError, match="disabled"):
        checkpoints.resolve_checkpoint(PRESET, download=False)


def test_sam2_without_hash_structural_check(cache, server, body):
    path = checkpoints.download_checkpoint("sam2_hiera_tiny", progress=False, base_url=server.url)
    assert path.name == "sam2_hiera_tiny.pt"
    server.mode = "corrupt"  # zeros: no hash to compare, but not a checkpoint either
    path.unlink()
    with pytest.raises(CheckpointCorruptError, match="not a PyTorch checkpoint"):
        checkpoints.download_checkpoint("sam2_hiera_tiny", progress=False, base_url=server.url)
    assert list(cache.iterdir()) == []


def test_local_file_and_folder(cache, tmp_path, body):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    (folder / FILE).write_bytes(body)
    assert checkpoints.resolve_checkpoint(PRESET, folder) == folder / FILE
    assert checkpoints.resolve_checkpoint("sam2.1_hiera_base_plus", folder / FILE) == folder / FILE
    with pytest.raises(CheckpointNotFoundError, match="sam2.1_hiera_small.pt"):
        checkpoints.resolve_checkpoint("sam2.1_hiera_small", folder)
    with pytest.raises(CheckpointNotFoundError, match="not found"):
        checkpoints.resolve_checkpoint(PRESET, tmp_path / "missing.pt")


def test_truncated_or_foreign_local_file(cache, tmp_path, body):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(body[: len(body) // 2])
    with pytest.raises(CheckpointCorruptError, match="truncated"):
        checkpoints.resolve_checkpoint(PRESET, bad)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointCorruptError, match="not a PyTorch checkpoint"):
        checkpoints.resolve_checkpoint(PRESET, text)


def test_unknown_preset(cache):
    with pytest.raises(ValueError, match="unknown model preset"):
        checkpoints.resolve_checkpoint("sam3_giant")


def test_load_model_downloads_once_then_uses_the_cache(cache, tmp_path, monkeypatch):
    """``load_model(name)`` with no checkpoint: downloaded, verified, loaded; then cached."""
    from napari_sam2 import load_model
    from napari_sam2.checkpoints.standin import write_standin_checkpoint

    body = write_standin_checkpoint(PRESET, tmp_path / "served.pt").read_bytes()
    digest = hashlib.sha256(body).hexdigest()
    entry = dataclasses.replace(checkpoints.REGISTRY[PRESET], sha256=digest)
    monkeypatch.setitem(checkpoints.REGISTRY, PRESET, entry)
    srv = CheckpointServer(body)
    try:
        monkeypatch.setenv("NAPARI_SAM2_BASE_URL", srv.url)
        seen = []
        model = load_model(PRESET, progress=lambda done, total: seen.append((done, total)))
        assert seen[-1] == (len(body), len(body))
        assert (cache / FILE).read_bytes() == body
        again = load_model(PRESET, progress=False)
        assert len(srv.requests) == 1  # the second load came from the cache
    finally:
        srv.close()
    key = "sam_mask_decoder.iou_token.weight"
    assert torch.equal(model.state_dict()[key], again.state_dict()[key])
