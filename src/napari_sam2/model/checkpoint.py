"""The pure strict check of a state dict against a model: no files, no errors.

Reading files and raising checkpoint errors is ``napari_sam2.checkpoints``'s
job; the model layer only says whether tensors fit (so it stays pure torch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn


def _first(keys: Iterable[str], n: int = 5) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def state_dict_mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """None when ``state`` has exactly ``model``'s keys and shapes, else what differs
    (counts and the first offending keys, in one line)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = expected.keys() - state.keys()
    extra = state.keys() - expected.keys()
    wrong = [k for k in expected.keys() & state.keys() if tuple(state[k].shape) != expected[k]]
    if not (missing or extra or wrong):
        return None
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensor(s): {_first(missing)}")
    if extra:
        problems.append(f"{len(extra)} unexpected tensor(s): {_first(extra)}")
    if wrong:
        k = min(wrong)
        problems.append(
            f"{len(wrong)} tensor(s) of the wrong shape, e.g. {k}: "
            f"checkpoint {tuple(state[k].shape)} vs model {expected[k]}"
        )
    return "; ".join(problems)
