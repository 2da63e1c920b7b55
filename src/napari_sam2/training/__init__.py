"""Training SAM 2 (engine layer, no napari): image and clip batches with simulated
prompts and corrective clicks, SAM 2's losses, AdamW with warm-up, resumable
checkpoints in the official layout.

``train(TrainConfig.demo(), GeneratorSource(DEMO_SPECS), "runs/demo")`` trains
the packaged demo model; ``TrainConfig.finetune()`` fine-tunes a real
checkpoint on one's own labelled stacks with the image encoder frozen.
"""

from napari_sam2.training.config import TrainConfig
from napari_sam2.training.data import (
    FixedSource,
    GeneratorSource,
    LabelledStack,
    load_ctc,
    load_tiff_pair,
)
from napari_sam2.training.loop import export_model, load_trained, train
from napari_sam2.training.steps import PromptRecipe, forward_memory_prompt

__all__ = [
    "FixedSource",
    "GeneratorSource",
    "LabelledStack",
    "PromptRecipe",
    "TrainConfig",
    "export_model",
    "forward_memory_prompt",
    "load_ctc",
    "load_tiff_pair",
    "load_trained",
    "train",
]
