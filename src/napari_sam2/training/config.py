"""``TrainConfig``: everything that shapes a training run, with presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from napari_sam2.training.losses import LossWeights
from napari_sam2.training.steps import PromptRecipe


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Steps alternate between image batches and clips.

    The first ``image_phase`` of the steps are image batches only; after
    that a ``clip_fraction`` of the steps are clips. The learning rate warms
    up linearly over ``warmup_steps`` then follows a cosine to
    ``lr * min_lr_ratio``.
    """

    model: str = "demo"  # model preset (SAM2Config name) being trained
    image_size: int | None = None  # a reduced input size of that preset (None: its own)
    steps: int = 2000
    image_phase: float = 0.4
    clip_fraction: float = 0.5
    images_per_batch: int = 4
    objects_per_image: int = 4
    clip_length: int = 8  # SAM 2 trains on 8-frame clips
    clip_objects: int = 3
    p_leaving: float = 0.3  # clips: chance of preferring objects that vanish within the clip
    min_absent: int = 0  # ... and then, if it can, one absent from at least this many frames
    p_zoom: float = 0.0  # image batches: chance of a random crop (half to all of a side) enlarged
    p_touching: float = 0.0  # image batches: chance of taking only cells that touch another
    lr: float = 1e-3
    image_encoder_lr_scale: float = 1.0  # e.g. 0.1 when fine-tuning a real checkpoint
    weight_decay: float = 0.05
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    freeze_image_encoder: bool = False  # fine-tuning a real checkpoint on one's own stacks
    # From random weights only: the decoder's projections of the high-resolution
    # features (conv_s0, conv_s1) start at zero and stay there for this many steps.
    # Otherwise that click-independent shortcut learns "every cell" first and the
    # decoder never learns to follow the click (observed: masks identical for any click).
    high_res_warmup_steps: int = 0
    dtype: str = "float32"  # or "bfloat16" (autocast; weights and optimizer stay float32)
    device: str = "cpu"
    seed: int = 1000  # numpy/torch seed; also the first generator seed (>= 1000: training seeds)
    checkpoint_every_s: float = 300.0
    log_every: int = 10
    prompts: PromptRecipe = field(default_factory=PromptRecipe)
    weights: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype must be float32 or bfloat16, got {self.dtype!r}")
        if not 0.0 <= self.image_phase <= 1.0 or not 0.0 <= self.clip_fraction <= 1.0:
            raise ValueError("image_phase and clip_fraction must lie in [0, 1]")
        if self.clip_length < 1:
            raise ValueError(f"clip_length must be >= 1, got {self.clip_length}")

    @classmethod
    def demo(cls, **overrides) -> TrainConfig:
        """The packaged demo model: ~65 minutes of one CPU thread from random weights."""
        base = {
            "model": "demo",
            "steps": 4000,
            "image_phase": 0.45,
            "clip_fraction": 0.4,
            "high_res_warmup_steps": 400,
            "p_leaving": 0.6,
            "prompts": PromptRecipe(p_merged_box=0.2),
        }
        return cls(**{**base, **overrides})

    @classmethod
    def demo_refine(cls, **overrides) -> TrainConfig:
        """The demo model's second stage, from the first stage's weights (``--checkpoint``).

        A little more of what the first stage learned least (boxes around two
        touching cells followed by a negative click; cells that leave, whose
        object score must fall) at a low learning rate that keeps what it learned.
        """
        base = {
            "model": "demo",
            "steps": 900,
            "image_phase": 0.0,
            "clip_fraction": 0.4,
            "lr": 1e-4,
            "warmup_steps": 30,
            "p_leaving": 0.6,
            "prompts": PromptRecipe(p_merged_box=0.45, p_box=0.3),
            "weights": LossWeights(object_score=2.0),
        }
        return cls(**{**base, **overrides})

    @classmethod
    def demo_polish(cls, **overrides) -> TrainConfig:
        """A third stage tried on the demo model, from the second stage's export
        (``--checkpoint``); not shipped: docs/training.md gives its figures.

        Aimed at the two behaviours the second stage still missed: every box
        around two touching cells is followed by a corrective (negative)
        click, and leaving cells are drawn so that they are gone for at least
        three of the eight frames, tracked beside a cell that stays.
        """
        base = {
            "model": "demo",
            "steps": 1000,
            "image_phase": 0.0,
            "clip_fraction": 0.5,
            "lr": 1e-4,
            "warmup_steps": 30,
            "p_leaving": 0.7,
            "min_absent": 3,
            "prompts": PromptRecipe(p_merged_box=0.5, p_box=0.25, merged_min_rounds=1),
            "weights": LossWeights(object_score=2.0),
        }
        return cls(**{**base, **overrides})

    @classmethod
    def demo_touching(cls, **overrides) -> TrainConfig:
        """A third stage of the demo model, from the second stage's export (``--checkpoint``).

        Stage ``demo_polish`` drew its merged boxes around random cells, and
        four in five of them touch no other cell: the box then held one cell
        and taught no negative click. Here most image batches take only cells
        that touch a neighbour, and the answer to a box around two cells is
        trained against both (the negative click that follows, against one).
        """
        base = {
            "model": "demo",
            "steps": 3000,
            "image_phase": 0.0,
            "clip_fraction": 0.4,
            "lr": 1e-4,
            "warmup_steps": 30,
            "p_touching": 0.7,
            "p_leaving": 0.7,
            "min_absent": 3,
            "prompts": PromptRecipe(
                p_merged_box=0.5, p_box=0.25, merged_min_rounds=1, merged_box_is_both=True
            ),
            "weights": LossWeights(object_score=2.0),
        }
        return cls(**{**base, **overrides})

    @classmethod
    def demo_corrections(cls, **overrides) -> TrainConfig:
        """The demo model's fourth stage, from the third's ``final.pt`` (shipped until the twelfth).

        ``demo_touching`` left the IoU head unable to rank the three answers to a
        click on a tracked frame (the best beat the tracked mask 9 times in 11,
        the chosen one 4): every clip now gets such a correction, the IoU loss
        weighs three times more, at half the learning rate.
        """
        base = cls.demo_touching()
        tuned = {
            "steps": 800,
            "lr": 5e-5,
            "clip_fraction": 0.5,
            "prompts": replace(base.prompts, p_correct_tracked=1.0),
            "weights": LossWeights(object_score=2.0, iou=3.0),
        }
        return replace(base, **{**tuned, **overrides})

    @classmethod
    def demo_split(cls, **overrides) -> TrainConfig:
        """A stage tried after ``demo_corrections`` (then the shipped model) for the split click.

        After a box around two touching cells, the negative click on one removed it
        but took half of the kept cell with it (kept-cell IoU 0.52). Nine image
        batches in ten take touching cells, seven in ten of those a merged box; the
        answer to the click that splits them weighs three times; leaving cells in
        most clips, the object score weighs three times.
        """
        base = cls.demo_corrections()
        tuned = {
            "steps": 3000,
            "lr": 1e-4,
            "clip_fraction": 0.35,
            "p_touching": 0.9,
            "p_leaving": 0.85,
            "prompts": replace(
                base.prompts, p_merged_box=0.7, p_box=0.15, merged_split_weight=3.0
            ),
            "weights": LossWeights(object_score=3.0, iou=3.0),
        }
        return replace(base, **{**tuned, **overrides})

    @classmethod
    def demo_mixed(cls, **overrides) -> TrainConfig:
        """A stage tried after ``demo_split``, from its ``final.pt``: the split click and
        the correction on a tracked frame trained side by side.

        ``demo_split`` raised the kept cell's IoU after a split but cost corrections on
        tracked frames; ``demo_corrections`` after it won them back and lost the split.
        Here half the steps are clips, each with a correction whose answer weighs
        three times, as the split click's does in the image batches.
        """
        base = cls.demo_split()
        prompts = replace(base.prompts, tracked_correction_weight=3.0)
        return replace(base, **{"clip_fraction": 0.5, "prompts": prompts, **overrides})

    @classmethod
    def demo_settle(cls, **overrides) -> TrainConfig:
        """A short stage after ``demo_mixed``, from its ``final.pt``.

        ``demo_mixed`` tracked leavers in 85 % of its clips with the object score
        weighing three times: absence was learned (score negative on 93 % of absent
        frames) and tracks of cells that stay were dropped (propagation 0.91 to
        0.82). Fewer leavers, each beside a cell that stays, the object score at
        twice the weight, at half the learning rate.
        """
        base = cls.demo_mixed()
        tuned = {
            "steps": 1000,
            "lr": 5e-5,
            "clip_fraction": 0.6,
            "p_leaving": 0.4,
            "weights": replace(base.weights, object_score=2.0),
        }
        return replace(base, **{**tuned, **overrides})

    @classmethod
    def demo_keep(cls, **overrides) -> TrainConfig:
        """The demo model's twelfth stage, from ``demo_settle``'s ``final.pt``: the
        shipped model.

        ``demo_settle`` still dropped cells that stay (9 % of tracked frames): leavers
        in 15 % of the clips only and the object score at its plain weight bring the
        score back to presence while it keeps most of the absence it learned.
        """
        base = cls.demo_settle()
        return replace(
            base,
            **{"p_leaving": 0.15, "weights": replace(base.weights, object_score=1.0), **overrides},
        )

    @classmethod
    def finetune(cls, model: str = "sam2.1_hiera_tiny", **overrides) -> TrainConfig:
        """Fine-tuning a real checkpoint on a user's labelled stacks: encoder frozen, small LR."""
        base = {
            "model": model,
            "steps": 500,
            "image_phase": 0.3,
            "clip_fraction": 0.5,
            "lr": 5e-5,
            "warmup_steps": 25,
            "freeze_image_encoder": True,
            "images_per_batch": 2,
            "clip_objects": 2,
        }
        return cls(**{**base, **overrides})

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["prompts"] = PromptRecipe(**d.get("prompts", {}))
        d["weights"] = LossWeights(**d.get("weights", {}))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
