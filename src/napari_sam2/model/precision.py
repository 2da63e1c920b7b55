"""Compute precision of the model's steps: exact float32, or bfloat16.

The model's public steps are wrapped by :func:`in_compute_dtype`, which
reads the model's ``compute_dtype``. bfloat16 runs on CUDA GPUs and on CPUs
with bfloat16 units (:func:`cpu_supports_bfloat16`); elsewhere it would be
emulated, slower than float32.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

_Step = TypeVar("_Step", bound=Callable)


def in_compute_dtype(step: _Step) -> _Step:
    """Run a model step under autocast when the model computes in bfloat16.

    Matmuls and convolutions run in ``compute_dtype`` (their weights are
    cast once by :meth:`SAM2Model.use_compute_dtype`), norms and softmax in
    float32, so outputs may be bfloat16 and callers cast to float where they
    need it (the engine does at its numpy boundary).
    """

    @functools.wraps(step)
    def run(self, *args, **kwargs):  # self: SAM2Model
        if self.compute_dtype != torch.float32:
            with torch.autocast(self.device.type, dtype=self.compute_dtype):
                return step(self, *args, **kwargs)
        if self.device.type == "cuda":
            with _exact_cudnn_convolutions():
                return step(self, *args, **kwargs)
        return step(self, *args, **kwargs)

    return run  # type: ignore[return-value]


@contextlib.contextmanager
def _exact_cudnn_convolutions():
    """cuDNN convolutions in true float32 (PyTorch's default is TF32 for them).

    TF32 moves stand-in logits by ~1e-3 from the reference's float32; with it
    off a CUDA run matches the CPU to ~1e-5. bfloat16 is the fast setting.
    """
    global _exact_depth, _tf32_before
    with _exact_lock:  # nested and concurrent steps (the plugin's prefetch thread)
        if _exact_depth == 0:
            _tf32_before = torch.backends.cudnn.allow_tf32
            torch.backends.cudnn.allow_tf32 = False
        _exact_depth += 1
    try:
        yield
    finally:
        with _exact_lock:
            _exact_depth -= 1
            if _exact_depth == 0:
                torch.backends.cudnn.allow_tf32 = _tf32_before


_exact_lock = threading.Lock()
_exact_depth = 0
_tf32_before = True


def cast_matmul_weights(module: nn.Module, dtype: torch.dtype) -> None:
    """Cast the weights of every linear and convolution layer to ``dtype``
    (what autocast would do on each call); norms and other parameters stay."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            m.to(dtype)


def cpu_supports_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 matmuls natively (so faster than float32).

    x86: AVX-512 BF16 or AMX (as PyTorch's own CPU dispatch sees them);
    Apple silicon: M2 and later (``hw.optional.arm.FEAT_BF16``).
    """
    cpu = torch.cpu
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    if sys.platform == "darwin" and platform.machine() == "arm64":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"],
                                 capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        return out.strip() == "1"
    return False


def cpu_bfloat16_attention(q: torch.Tensor) -> bool:
    """Whether attention on ``q`` should be plain matmuls instead of the fused kernel.

    On a CPU the fused kernel computes bfloat16 no faster than float32,
    while bfloat16 matmuls run at up to 4x float32's rate.
    """
    return q.device.type == "cpu" and q.dtype == torch.bfloat16
