"""The one device picker: ``auto`` means CUDA, then Apple MPS, then the CPU.

Used by ``load_model``, the CLI and the plugin's settings, so a choice means
the same everywhere. torch is imported only when a device is picked, so the
plugin's settings can list the choices without loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def available_devices() -> list[str]:
    """Devices torch can use on this machine, best first (``cpu`` always last)."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def pick_device(choice: str | torch.device | None = "auto") -> torch.device:
    """The torch device for a user's choice: one of :data:`DEVICE_CHOICES` or ``cuda:N``.

    Raises a one-line ``ValueError`` naming the choices when ``choice`` is
    unknown or not available on this machine.
    """
    import torch

    text = str(choice or "auto").strip().lower()
    devices = available_devices()
    if text == "auto":
        return torch.device(devices[0])
    kind, colon, index = text.partition(":")
    if kind not in DEVICE_CHOICES[1:] or (colon and not (kind == "cuda" and index.isdigit())):
        raise ValueError(
            f"unknown device {str(choice)!r}; choose one of {', '.join(DEVICE_CHOICES)} or cuda:N"
        )
    if kind not in devices:
        raise ValueError(
            f"device {text!r} is not available here; choose one of auto, {', '.join(devices)}"
        )
    if colon and int(index) >= torch.cuda.device_count():
        n = torch.cuda.device_count()
        raise ValueError(
            f"device {text!r} is not available here: PyTorch sees {n} CUDA GPU(s), "
            f"cuda:0 to cuda:{n - 1}; choose one of those or auto"
        )
    return torch.device(text)
