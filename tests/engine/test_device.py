"""The one device picker: auto order, cuda:N, one-line errors naming the choices."""

from __future__ import annotations

import pytest
import torch

from napari_sam2.engine import device as device_module
from napari_sam2.engine.device import DEVICE_CHOICES, available_devices, pick_device


def test_choices_and_cpu_always_available():
    assert DEVICE_CHOICES == ("auto", "cuda", "mps", "cpu")
    assert available_devices()[-1] == "cpu"
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(device_module, "available_devices", lambda: ["cpu"])
    assert pick_device() == torch.device("cpu")
    monkeypatch.setattr(device_module, "available_devices", lambda: ["mps", "cpu"])
    assert pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(device_module, "available_devices", lambda: ["cuda", "mps", "cpu"])
    assert pick_device("AUTO") == torch.device("cuda")


def test_cuda_index(monkeypatch):
    monkeypatch.setattr(device_module, "available_devices", lambda: ["cuda", "cpu"])
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert pick_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match=r"'cuda:2' is not available here.*2 CUDA GPU"):
        pick_device("cuda:2")


@pytest.mark.parametrize("choice", ["gpu", "cuda:x", "mps:0", "tpu"])
def test_unknown_device_names_the_choices(choice):
    with pytest.raises(ValueError, match="unknown device.*auto, cuda, mps, cpu") as exc:
        pick_device(choice)
    assert "\n" not in str(exc.value)


def test_unavailable_device(monkeypatch):
    monkeypatch.setattr(device_module, "available_devices", lambda: ["cpu"])
    with pytest.raises(ValueError, match="'cuda' is not available here; choose one of auto, cpu"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="'mps' is not available"):
        pick_device("mps")
