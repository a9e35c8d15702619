"""Encoders: images ``(N, C, H, W)`` (or vectors ``(N, D)``) to a feature vector ``(N, F)``."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import ENCODERS

__all__ = ["ConvEncoder", "MLPEncoder", "make_encoder", "scale_pixels"]


def scale_pixels(x: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Map integer levels {0..K-1} to [-1, 1] (data without levels passes unchanged)."""
    if num_levels and num_levels > 1:
        return x * (2.0 / (num_levels - 1)) - 1.0
    return x


class MLPEncoder(nn.Module):
    """Flatten, then two hidden ReLU layers: ``(..., *event_shape) -> (..., out_features)``."""

    def __init__(self, event_shape: tuple[int, ...], num_levels: int, hidden_dim: int, out_features: int):
        super().__init__()
        self.event_shape, self.num_levels = tuple(event_shape), num_levels
        d = math.prod(event_shape)
        self.net = nn.Sequential(
            nn.Linear(d, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[: x.dim() - len(self.event_shape)]
        h = scale_pixels(x, self.num_levels).reshape(*batch, -1)
        return self.net(h)


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions then a linear layer: ``(..., C, H, W) -> (..., out_features)``."""

    def __init__(self, event_shape: tuple[int, ...], num_levels: int, hidden_dim: int, out_features: int):
        super().__init__()
        if len(event_shape) != 3:
            raise ValueError(f"network='conv': expected image_shape [C, H, W]; found {list(event_shape)}")
        c, h, w = event_shape
        self.event_shape, self.num_levels = tuple(event_shape), num_levels
        ch = max(hidden_dim // 8, 8)
        self.conv = nn.Sequential(
            nn.Conv2d(c, ch, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), nn.ReLU(),
        )
        hh, ww = (h + 3) // 4, (w + 3) // 4
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * ch * hh * ww, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[:-3]
        h = scale_pixels(x, self.num_levels).reshape(-1, *self.event_shape)
        return self.head(self.conv(h)).reshape(*batch, -1)


ENCODERS.register("mlp", "two hidden ReLU layers on the flattened image")(MLPEncoder)
ENCODERS.register("conv", "two stride-2 convolutions, then a linear layer")(ConvEncoder)


def make_encoder(network: str, event_shape, num_levels: int, hidden_dim: int, out_features: int) -> nn.Module:
    """The encoder registered as ``network`` (``pgm.ENCODERS``; plug-ins add their own)."""
    return ENCODERS[ENCODERS.check(network, "network")](event_shape, num_levels, hidden_dim, out_features)
