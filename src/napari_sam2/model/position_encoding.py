"""Position encodings: 2-D sine maps, random Fourier features, 1-D sine and axial RoPE."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import nn


def _sine_dim_t(num_feats: int, temperature: float, device: torch.device) -> torch.Tensor:
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * (dim_t // 2) / num_feats)


# The tables are cached on each device they are used on: building or copying
# them on every call cost a GPU several milliseconds a frame.
@lru_cache(maxsize=16)
def _sine_map(
    channels: int, h: int, w: int, temperature: float, device: torch.device
) -> torch.Tensor:
    half = channels // 2
    scale, eps = 2 * math.pi, 1e-6
    y = torch.arange(1, h + 1, dtype=torch.float32).view(-1, 1).expand(h, w)
    x = torch.arange(1, w + 1, dtype=torch.float32).view(1, -1).expand(h, w)
    y = y / (h + eps) * scale
    x = x / (w + eps) * scale
    dim_t = _sine_dim_t(half, temperature, torch.device("cpu"))
    pos_x, pos_y = x[..., None] / dim_t, y[..., None] / dim_t
    # Interleave sin of even and cos of odd frequencies, as DETR does.
    pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=3).flatten(2)
    pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=3).flatten(2)
    return torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1).contiguous().to(device)


def sine_position_map(
    channels: int, h: int, w: int, device: torch.device | str = "cpu", temperature: float = 10000
) -> torch.Tensor:
    """Normalised 2-D sine encoding, ``(1, channels, h, w)`` (cached per size and device)."""
    return _sine_map(channels, h, w, float(temperature), torch.device(device))[None]


def sine_1d(positions: torch.Tensor, dim: int, temperature: float = 10000) -> torch.Tensor:
    """1-D sine/cosine encoding of (fractional) positions, ``(..., dim)``."""
    dim_t = _sine_dim_t(dim // 2, temperature, positions.device)
    angles = positions.unsqueeze(-1) / dim_t
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class RandomFourierEncoding(nn.Module):
    """Positional encoding of (x, y) coordinates by random spatial frequencies."""

    def __init__(self, num_feats: int = 128) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_feats))

    def encode(self, coords01: torch.Tensor) -> torch.Tensor:
        """Encode coordinates normalised to [0, 1]; ``(..., 2) -> (..., 2 * num_feats)``."""
        proj = (2 * coords01 - 1) @ self.positional_encoding_gaussian_matrix
        proj = 2 * math.pi * proj
        return torch.cat([proj.sin(), proj.cos()], dim=-1)

    def grid(self, h: int, w: int) -> torch.Tensor:
        """Encoding of every cell centre of an ``h x w`` grid, ``(1, C, h, w)``."""
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
        coords = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
        return self.encode(coords).permute(2, 0, 1)[None]

    def points(self, coords: torch.Tensor, image_size: int) -> torch.Tensor:
        """Encode pixel coordinates of a square input of side ``image_size``."""
        return self.encode(coords.float() / image_size)


@lru_cache(maxsize=8)
def _axial_angles(
    dim: int, side: int, theta: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 4)[: dim // 4].float() / dim))
    t = torch.arange(side * side, dtype=torch.float32)
    t_x, t_y = t % side, torch.div(t, side, rounding_mode="floor")
    angles = torch.cat([torch.outer(t_x, freqs), torch.outer(t_y, freqs)], dim=-1)
    return angles.cos().to(device), angles.sin().to(device)


def axial_rope(dim: int, num_tokens: int, theta: float = 10000.0, device=None):
    """cos/sin tables ``(num_tokens, dim // 2)`` of 2-D axial RoPE on a square grid."""
    side = math.isqrt(num_tokens)
    if side * side != num_tokens:
        raise ValueError(f"RoPE expects a square token grid, got {num_tokens} tokens")
    return _axial_angles(dim, side, float(theta), torch.device(device or "cpu"))


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive channel pairs of ``x (..., N, dim)`` by the given angles.

    ``cos``/``sin`` are ``(n, dim // 2)`` with ``N`` a multiple of ``n``: the same
    rotation repeats for every block of ``n`` tokens (several memory frames).
    """
    n_tok = x.shape[-2]
    reps = n_tok // cos.shape[0]
    if reps != 1:
        cos, sin = cos.repeat(reps, 1), sin.repeat(reps, 1)
    pairs = x.float().unflatten(-1, (-1, 2))
    re, im = pairs[..., 0], pairs[..., 1]
    out = torch.stack((re * cos - im * sin, re * sin + im * cos), dim=-1)
    return out.flatten(-2).type_as(x)
