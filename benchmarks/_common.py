"""Helpers shared by the benchmark scripts (stand-in weights; timings only)."""

from __future__ import annotations

import resource
import statistics
import time

import torch


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_anon_mb() -> float:
    """Current private (anonymous) memory in MiB: what the process itself holds.

    Unlike RSS it leaves out file pages mapped from a memmapped stack, which
    the kernel can drop at any time.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def standin_model(preset: str = "sam2.1_hiera_tiny", image_size: int | None = None):
    """A model with deterministic stand-in weights: same cost as the real ones."""
    from napari_sam2.checkpoints.standin import standin_state_dict
    from napari_sam2.model import build_model

    model = build_model(preset, image_size=image_size)
    model.load_state_dict(
        standin_state_dict({k: tuple(v.shape) for k, v in model.state_dict().items()})
    )
    return model


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def describe_machine() -> str:
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads"
