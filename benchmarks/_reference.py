"""The official SAM 2 code, imported from a git mirror for side-by-side timings.

Nothing is installed and nothing fetched is committed: the ``sam2`` package
is extracted with ``git archive`` from a bare mirror of
facebookresearch/sam2 into a temporary folder, its configuration libraries
(hydra, omegaconf, iopath: not installed here) are replaced by stubs, and the
tiny model is built from its own YAML file by a small ``instantiate``.

    SAM2_MIRROR=/work/.mirror/facebookresearch+sam2/repo   (the default)
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

DEFAULT_MIRROR = "/work/.mirror/facebookresearch+sam2/repo"
CONFIG = "sam2/configs/sam2.1/sam2.1_hiera_t.yaml"


def _extract(mirror: str) -> Path:
    commit = subprocess.run(["git", "-C", mirror, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    root = Path(tempfile.gettempdir()) / f"napari_sam2_reference_{commit}"
    if not (root / "sam2" / "__init__.py").exists():
        root.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", mirror, "archive", "HEAD", "sam2"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root


def _stub_config_libraries() -> None:
    """Just what ``sam2/__init__.py`` and ``hieradet.py`` touch at import time."""

    class _Hydra:
        @staticmethod
        def instance():
            return types.SimpleNamespace(is_initialized=lambda: True)

    stubs = {
        "hydra": {"initialize_config_module": lambda *a, **k: None, "compose": None},
        "hydra.core": {},
        "hydra.core.global_hydra": {"GlobalHydra": _Hydra},
        "hydra.utils": {"instantiate": None},
        "omegaconf": {"OmegaConf": None},
        "iopath": {},
        "iopath.common": {},
        "iopath.common.file_io": {"g_pathmgr": None},
    }
    for name, attrs in stubs.items():
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__dict__.update(attrs)
            sys.modules[name] = module


def _instantiate(node):
    if isinstance(node, list):
        return [_instantiate(x) for x in node]
    if isinstance(node, str):  # PyYAML reads 1e-6 as a string
        try:
            return float(node)
        except ValueError:
            return node
    if not isinstance(node, dict):
        return node
    args = {k: _instantiate(v) for k, v in node.items() if k != "_target_"}
    if "_target_" not in node:
        return args
    module, _, name = node["_target_"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**args)


def reference_video_predictor(state_dict: dict, mirror: str | None = None):
    """The reference ``SAM2VideoPredictor`` (tiny, SAM 2.1) with ``state_dict`` loaded
    strictly, with the settings of its ``build_sam2_video_predictor`` (holes not filled:
    that needs its CUDA extension)."""
    import torch
    import yaml

    root = _extract(mirror or os.environ.get("SAM2_MIRROR", DEFAULT_MIRROR))
    _stub_config_libraries()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    cfg = yaml.safe_load((root / CONFIG).read_text())["model"]
    cfg["_target_"] = "sam2.sam2_video_predictor.SAM2VideoPredictor"
    cfg["sam_mask_decoder_extra_args"] = {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    }
    cfg["binarize_mask_from_pts_for_mem_enc"] = True
    cfg["fill_hole_area"] = 0
    model = _instantiate(cfg)
    model.load_state_dict({k: v.clone() for k, v in state_dict.items()}, strict=True)
    return model.to(torch.device("cpu")).eval()
