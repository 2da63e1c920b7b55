"""Files that users pass as checkpoints by mistake, each with the words its error must say."""

from __future__ import annotations

import random
from pathlib import Path

import torch

LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69\n"
    "size 156008466\n"
)
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    "<body><h1>Not Found</h1></body></html>\n"
)


def _zip_cut(path: Path) -> bytes:
    torch.save({"model": {"w": torch.arange(50_000, dtype=torch.float32)}}, path)
    body = path.read_bytes()
    return body[: len(body) // 2]


#: name -> (writer of the file's bytes, regex its message must match)
BAD_FILES = {
    "six_byte_text": (lambda p: b"hello\n", r"6-byte text file, not a PyTorch checkpoint"),
    "empty": (lambda p: b"", r"is empty \(0 bytes\).*download it again"),
    "random_bytes": (lambda p: random.Random(0).randbytes(4096),
                     r"not a PyTorch checkpoint \(neither a zip archive nor a pickle\)"),
    "random_pickle": (lambda p: b"\x80" + random.Random(1).randbytes(4096),
                      r"could not be read as a PyTorch checkpoint.*download it again"),
    "html_page": (lambda p: HTML_PAGE.encode(),
                  r"is an HTML page, not a checkpoint: the download failed"),
    "lfs_pointer": (lambda p: LFS_POINTER.encode(), r"is a git-LFS pointer.*git lfs pull"),
    "truncated_zip": (_zip_cut, r"truncated or damaged zip archive.*download it again"),
}


def write_bad_file(kind: str, folder: Path) -> Path:
    """Write the ``kind`` file as ``folder/<kind>.pt`` and return its path."""
    make, _ = BAD_FILES[kind]
    path = folder / f"{kind}.pt"
    path.write_bytes(make(folder / f"{kind}.tmp"))
    return path
