"""One family of checkpoint errors: catch :class:`CheckpointError` alone.

Every message is one line that names the problem and the fix, so the CLI
prints it as ``napari-sam2: error: ...`` and the plugin as a notification,
without a traceback. The subclasses let callers tell the cases apart.
"""

from __future__ import annotations


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, does not fit the model, or could not be downloaded."""


class CheckpointNotFoundError(CheckpointError):
    """The checkpoint file or folder the user named does not exist or lacks the file."""


class CheckpointCorruptError(CheckpointError):
    """The file is not a readable SAM 2 checkpoint: empty, truncated, an HTML page,
    a git-LFS pointer, another kind of file, or one without a state dict."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint does not fit the chosen preset (missing, extra or misshapen tensors)."""


class CheckpointDownloadError(CheckpointError):
    """A download failed (HTTP error, dropped connection); running again resumes it."""


class CheckpointOfflineError(CheckpointDownloadError):
    """The checkpoint is not cached and the download server cannot be reached."""


class CheckpointChecksumError(CheckpointError):
    """A downloaded file's SHA-256 or size differs from the published one."""


__all__ = [
    "CheckpointChecksumError",
    "CheckpointCorruptError",
    "CheckpointDownloadError",
    "CheckpointError",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "CheckpointOfflineError",
]
