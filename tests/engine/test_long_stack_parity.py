"""Long-stack mode replays the SAM2Long reference's golden runs (stand-in tiny weights)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2 import VideoSession
from napari_sam2.engine.memory_tree import MemoryTree
from tests.conftest import golden


@pytest.mark.slow
@pytest.mark.parametrize("case", ["long_default", "long_confident"])
def test_golden_long_stack(case, standin_tiny):
    spec, data = golden(case)
    tree = MemoryTree(spec["num_pathway"], spec["iou_threshold"], spec["uncertainty_threshold"])
    session = VideoSession(standin_tiny, data["frames"], memory_tree=tree)
    prompt = spec["prompt"]
    if prompt.get("box") is not None:
        session.set_prompt(
            prompt["frame"],
            prompt["obj"],
            box=prompt["box"],
            points=prompt.get("points"),
            labels=prompt.get("labels"),
        )
    else:
        session.set_prompt(
            prompt["frame"], prompt["obj"], points=prompt["points"], labels=prompt["labels"]
        )
    final = {}
    for result in session.propagate():  # the last result of a frame is its final answer
        final[result.frame] = result.low_res_logits[result.obj_ids.index(prompt["obj"])]
    assert sorted(final) == [s["frame"] for s in spec["steps"]]
    for step in spec["steps"]:
        ours, ref = final[step["frame"]], data[step["key"]]
        assert np.abs(ours - ref).mean() <= 1e-3, step
        a, b = ours > 0, ref > 0
        union = (a | b).sum()
        assert (a & b).sum() / union >= 0.995 if union else True, step
