"""Device choice: ``auto`` means CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

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


def resolve_device(choice: str = "auto") -> str:
    """The torch device string for a user choice; ``ValueError`` if it is unavailable."""
    choice = (choice or "auto").lower()
    if choice not in DEVICE_CHOICES and not choice.startswith("cuda:"):
        raise ValueError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    devices = available_devices()
    if choice == "auto":
        return devices[0]
    if choice.split(":")[0] not in devices:
        raise ValueError(
            f"device {choice!r} is not available here (available: {', '.join(devices)})"
        )
    return choice
