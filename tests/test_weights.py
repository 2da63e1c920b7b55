"""Checkpoint registry, cache and downloads against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest
import torch

from napari_sam2 import weights
from napari_sam2.model.config import list_presets
from napari_sam2.weights import CheckpointError, CheckpointInfo, CheckpointOfflineError

PRESET = "sam2.1_hiera_tiny"
FILE = f"{PRESET}.pt"


def _fake_checkpoint(tmp_path: Path) -> bytes:
    # Big enough for several 1 MiB chunks, so progress is reported more than once.
    path = tmp_path / "fake.pt"
    torch.save({"model": {"w": torch.arange(700_000, dtype=torch.float32)}}, path)
    return path.read_bytes()


class _Server:
    """Serves ``body`` for any path; ``mode`` "ok", "corrupt" or "drop"."""

    def __init__(self, body: bytes):
        self.body = body
        self.mode = "ok"
        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                data = server.body
                if server.mode == "corrupt":
                    data = bytes(len(data))
                start = 0
                rng = self.headers.get("Range")
                if rng and server.mode == "ok":
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if server.mode == "drop":  # half the body, then hang up
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NAPARI_SAM2_CACHE_DIR", str(folder))
    monkeypatch.delenv("NAPARI_SAM2_BASE_URL", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    weights.set_cache_dir(None)
    return folder


@pytest.fixture
def body(tmp_path):
    return _fake_checkpoint(tmp_path)


@pytest.fixture
def server(body):
    srv = _Server(body)
    yield srv
    srv.close()


@pytest.fixture
def known_hash(body, monkeypatch):
    info = weights.REGISTRY[PRESET]
    entry = CheckpointInfo(info.preset, info.filename, info.url, hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(weights.REGISTRY, PRESET, entry)


def test_registry_covers_presets():
    assert set(weights.REGISTRY) == set(list_presets())
    tiny = weights.REGISTRY["sam2.1_hiera_tiny"]
    assert tiny.url == (
        "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt"
    )
    assert tiny.sha256.startswith("7402e0d8")
    assert weights.REGISTRY["sam2_hiera_large"].url.endswith("/072824/sam2_hiera_large.pt")
    assert weights.REGISTRY["sam2_hiera_large"].sha256 is None
    assert weights.checkpoint_info("tiny") == tiny


def test_cache_dir_env_and_setting(cache, tmp_path):
    assert weights.cache_dir() == cache
    weights.set_cache_dir(tmp_path / "other")
    try:
        assert weights.cache_dir() == tmp_path / "other"
    finally:
        weights.set_cache_dir(None)
    assert weights.cache_dir() == cache


def test_download_progress_hash_and_reuse(cache, server, body, known_hash):
    calls = []
    path = weights.resolve_checkpoint(
        PRESET, progress=lambda done, total: calls.append((done, total)), base_url=server.url
    )
    assert path == cache / FILE and path.read_bytes() == body
    assert len(calls) >= 2 and calls[-1] == (len(body), len(body))
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert sorted(p.name for p in cache.iterdir()) == [FILE]  # no temporary left
    assert weights.cached_path(PRESET) == path
    n = len(server.requests)
    assert weights.resolve_checkpoint(PRESET, base_url=server.url) == path
    assert len(server.requests) == n  # the cache answered


def test_base_url_from_env(cache, server, known_hash, monkeypatch):
    monkeypatch.setenv("NAPARI_SAM2_BASE_URL", server.url)
    assert weights.resolve_checkpoint(PRESET, progress=False).is_file()
    assert server.requests[0]["path"] == f"/{FILE}"


def test_tqdm_progress(cache, server, known_hash, capsys):
    weights.download(PRESET, progress=True, base_url=server.url)
    assert FILE in capsys.readouterr().err


def test_corrupted_download_is_not_kept(cache, server, known_hash):
    server.mode = "corrupt"
    with pytest.raises(CheckpointError, match="SHA-256"):
        weights.download(PRESET, progress=False, base_url=server.url)
    assert list(cache.iterdir()) == []
    assert weights.cached_path(PRESET) is None


def test_dropped_connection_then_resume(cache, server, body, known_hash):
    server.mode = "drop"
    with pytest.raises(CheckpointError, match="interrupted|ended after"):
        weights.download(PRESET, progress=False, base_url=server.url)
    assert weights.cached_path(PRESET) is None  # only the .part file, never used
    assert [p.name for p in cache.iterdir()] == [f"{FILE}.part"]
    server.mode = "ok"
    path = weights.download(PRESET, progress=False, base_url=server.url)
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
        weights.resolve_checkpoint(PRESET, progress=False, base_url=_closed_port_url())
    msg = str(exc.value)
    assert FILE in msg and "NAPARI_SAM2_CACHE_DIR" in msg and "checkpoint=" in msg
    assert str(cache) in msg
    with pytest.raises(CheckpointOfflineError, match="disabled"):
        weights.resolve_checkpoint(PRESET, download=False)


def test_sam2_without_hash_structural_check(cache, server, body):
    path = weights.download("sam2_hiera_tiny", progress=False, base_url=server.url)
    assert path.name == "sam2_hiera_tiny.pt"
    server.mode = "corrupt"  # zeros: no hash to compare, but not a checkpoint either
    path.unlink()
    with pytest.raises(CheckpointError, match="not a readable"):
        weights.download("sam2_hiera_tiny", progress=False, base_url=server.url)
    assert list(cache.iterdir()) == []


def test_local_file_and_folder(cache, tmp_path, body):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    (folder / FILE).write_bytes(body)
    assert weights.resolve_checkpoint(PRESET, folder) == folder / FILE
    assert weights.resolve_checkpoint("sam2.1_hiera_base_plus", folder / FILE) == folder / FILE
    with pytest.raises(CheckpointError, match="sam2.1_hiera_small.pt"):
        weights.resolve_checkpoint("sam2.1_hiera_small", folder)
    with pytest.raises(CheckpointError, match="not found"):
        weights.resolve_checkpoint(PRESET, tmp_path / "missing.pt")


def test_truncated_or_foreign_local_file(cache, tmp_path, body):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(body[: len(body) // 2])
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        weights.resolve_checkpoint(PRESET, bad)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        weights.resolve_checkpoint(PRESET, text)


def test_unknown_preset(cache):
    with pytest.raises(ValueError, match="unknown model preset"):
        weights.resolve_checkpoint("sam3_giant")


def test_load_model_downloads_once_then_uses_the_cache(cache, tmp_path, monkeypatch):
    """``load_model(name)`` with no checkpoint: downloaded, verified, loaded; then cached."""
    from napari_sam2 import load_model
    from napari_sam2._testing import write_standin_checkpoint

    body = write_standin_checkpoint(PRESET, tmp_path / "served.pt").read_bytes()
    info = weights.REGISTRY[PRESET]
    digest = hashlib.sha256(body).hexdigest()
    monkeypatch.setitem(weights.REGISTRY, PRESET, CheckpointInfo(PRESET, FILE, info.url, digest))
    srv = _Server(body)
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
