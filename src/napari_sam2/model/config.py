"""Model configurations: frozen dataclasses and a registry of named presets.

Each official checkpoint has a preset with the same name as its file
(``sam2.1_hiera_tiny`` for ``sam2.1_hiera_tiny.pt``). A config fully
determines the module tree, hence the state_dict keys and shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class HieraConfig:
    """Hiera trunk: stages of windowed/global attention with query pooling."""

    embed_dim: int = 96
    num_heads: int = 1
    stages: tuple[int, ...] = (1, 2, 7, 2)
    global_att_blocks: tuple[int, ...] = (5, 7, 9)
    window_spec: tuple[int, ...] = (8, 4, 14, 7)
    window_pos_embed_bkg_spatial_size: tuple[int, int] = (7, 7)
    q_pool: int = 3
    q_stride: tuple[int, int] = (2, 2)
    dim_mul: float = 2.0
    head_mul: float = 2.0

    @property
    def channel_list(self) -> tuple[int, ...]:
        """Output channels per stage, lowest resolution first (as the FPN expects)."""
        dims = [int(self.embed_dim * self.dim_mul**i) for i in range(len(self.stages))]
        return tuple(reversed(dims))


@dataclass(frozen=True)
class SAM2Config:
    """Everything that shapes a SAM 2 model. Defaults are those of SAM 2.1 tiny."""

    name: str = "sam2.1_hiera_tiny"
    hiera: HieraConfig = field(default_factory=HieraConfig)
    image_size: int = 1024
    d_model: int = 256  # transformer width of decoder, neck and memory attention
    mem_dim: int = 64  # memory feature channels
    num_maskmem: int = 7  # 1 conditioning + 6 recent frames
    max_obj_ptrs_in_encoder: int = 16
    memory_attention_layers: int = 4
    memory_attention_ffn_dim: int = 2048  # MLP width of each memory-attention layer
    decoder_mlp_dim: int = 2048  # MLP width of the mask decoder's two-way transformer
    decoder_heads: int = 8  # attention heads of the mask decoder's two-way transformer
    fpn_top_down_levels: tuple[int, ...] = (2, 3)
    scalp: int = 1  # drop the lowest-resolution FPN level
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    # Differences between SAM 2.1 and SAM 2 (first release).
    no_obj_embed_spatial: bool = True
    add_tpos_enc_to_obj_ptrs: bool = True
    proj_tpos_enc_in_obj_ptrs: bool = True
    use_signed_tpos_enc_to_obj_ptrs: bool = True
    # Decoder output settings shared by all official checkpoints.
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98

    @property
    def backbone_stride(self) -> int:
        return 16

    @property
    def feature_size(self) -> int:
        """Side of the lowest-resolution feature map used by the decoder (64 at 1024)."""
        return self.image_size // self.backbone_stride

    @property
    def low_res_mask_size(self) -> int:
        """Side of the low-resolution mask logits (256 at 1024)."""
        return self.image_size // 4

    def with_image_size(self, image_size: int) -> SAM2Config:
        """A copy at another input size (a reduced configuration; no official weights)."""
        if image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
        return replace(self, image_size=image_size)


_TINY = HieraConfig()
_SMALL = HieraConfig(stages=(1, 2, 11, 2), global_att_blocks=(7, 10, 13))
_BASE_PLUS = HieraConfig(
    embed_dim=112,
    num_heads=2,
    stages=(2, 3, 16, 3),
    global_att_blocks=(12, 16, 20),
    window_pos_embed_bkg_spatial_size=(14, 14),
)
_LARGE = HieraConfig(
    embed_dim=144,
    num_heads=2,
    stages=(2, 6, 36, 4),
    global_att_blocks=(23, 33, 43),
    window_spec=(8, 4, 16, 8),
)

_SIZES = {"tiny": _TINY, "small": _SMALL, "base_plus": _BASE_PLUS, "large": _LARGE}

PRESETS: dict[str, SAM2Config] = {}
for _size, _hiera in _SIZES.items():
    PRESETS[f"sam2.1_hiera_{_size}"] = SAM2Config(name=f"sam2.1_hiera_{_size}", hiera=_hiera)
    PRESETS[f"sam2_hiera_{_size}"] = SAM2Config(
        name=f"sam2_hiera_{_size}",
        hiera=_hiera,
        no_obj_embed_spatial=False,
        add_tpos_enc_to_obj_ptrs=False,
        proj_tpos_enc_in_obj_ptrs=False,
        use_signed_tpos_enc_to_obj_ptrs=False,
    )

# A small model for CPUs, trained from scratch on synthetic cells (issue 11):
# input 256 (64x64 low-res masks), a 4-stage Hiera of width 24, a 128-wide
# decoder and 2 memory-attention layers. Not an official checkpoint, so it is
# not in PRESETS (list_presets names the official ones) but get_config knows it.
DEMO = SAM2Config(
    name="demo",
    hiera=HieraConfig(
        embed_dim=24,
        num_heads=1,
        stages=(1, 2, 3, 1),
        global_att_blocks=(4, 5, 6),
        window_spec=(8, 4, 8, 4),
        window_pos_embed_bkg_spatial_size=(8, 8),
    ),
    image_size=256,
    d_model=128,
    mem_dim=32,
    memory_attention_layers=2,
    memory_attention_ffn_dim=512,
    decoder_mlp_dim=512,
    decoder_heads=4,
)
EXTRA_PRESETS: dict[str, SAM2Config] = {"demo": DEMO}

# Short aliases people type: "tiny" means the newest release.
ALIASES: dict[str, str] = {
    **{size: f"sam2.1_hiera_{size}" for size in _SIZES},
    "base+": "sam2.1_hiera_base_plus",
    "sam2.1_hiera_b+": "sam2.1_hiera_base_plus",
    "sam2_hiera_b+": "sam2_hiera_base_plus",
}


def list_presets() -> list[str]:
    """Names of all official presets."""
    return list(PRESETS)


def get_config(name: str | SAM2Config) -> SAM2Config:
    """The preset called ``name`` (or an alias such as ``"tiny"``)."""
    if isinstance(name, SAM2Config):
        return name
    key = ALIASES.get(name, name)
    if key in EXTRA_PRESETS:
        return EXTRA_PRESETS[key]
    if key not in PRESETS:
        raise ValueError(
            f"unknown model preset {name!r}; choose one of: {', '.join(PRESETS)}"
        )
    return PRESETS[key]
