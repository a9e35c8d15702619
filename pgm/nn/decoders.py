"""Decoders: a latent code ``(..., L)`` to per-pixel distribution parameters ``(..., *event_shape, P)``."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import PgmError

__all__ = ["ConvDecoder", "MLPDecoder", "make_decoder"]


class MLPDecoder(nn.Module):
    """Two hidden ReLU layers: ``(..., L) -> (..., *event_shape, params_per_dim)``."""

    def __init__(self, latent_dim: int, hidden_dim: int, event_shape: tuple[int, ...], params_per_dim: int):
        super().__init__()
        self.event_shape, self.params_per_dim = tuple(event_shape), params_per_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, math.prod(event_shape) * params_per_dim),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        return out.reshape(*z.shape[:-1], *self.event_shape, self.params_per_dim)


class ConvDecoder(nn.Module):
    """Linear to a (H/4, W/4) map, two ×2 transposed convolutions, crop, 1×1 output."""

    def __init__(self, latent_dim: int, hidden_dim: int, event_shape: tuple[int, ...], params_per_dim: int):
        super().__init__()
        if len(event_shape) != 3:
            raise PgmError(f"network='conv': expected image_shape [C, H, W]; found {list(event_shape)}")
        c, h, w = event_shape
        self.event_shape, self.params_per_dim = tuple(event_shape), params_per_dim
        self.ch = max(hidden_dim // 8, 8)
        self.hh, self.ww = (h + 3) // 4, (w + 3) // 4
        self.fc = nn.Sequential(nn.Linear(latent_dim, 2 * self.ch * self.hh * self.ww), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * self.ch, self.ch, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(self.ch, self.ch, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(self.ch, c * params_per_dim, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        batch = z.shape[:-1]
        c, h, w = self.event_shape
        out = self.deconv(self.fc(z.reshape(-1, z.shape[-1])).view(-1, 2 * self.ch, self.hh, self.ww))
        out = out[..., :h, :w].reshape(-1, c, self.params_per_dim, h, w).permute(0, 1, 3, 4, 2)
        return out.reshape(*batch, c, h, w, self.params_per_dim)


def make_decoder(network: str, latent_dim: int, hidden_dim: int, event_shape, params_per_dim: int) -> nn.Module:
    if network == "mlp":
        return MLPDecoder(latent_dim, hidden_dim, event_shape, params_per_dim)
    if network == "conv":
        return ConvDecoder(latent_dim, hidden_dim, event_shape, params_per_dim)
    raise PgmError(f"network: expected one of conv, mlp; found {network!r}")
