"""Decoders: a latent code ``(..., L)`` to per-pixel distribution parameters
``(..., *event_shape, P)``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..registry import DECODERS
from .encoders import conv_image_shape
from .mlp import GATED_MLP_READS, activation_class, make_mlp
from .weight_init import keep_initialisation

__all__ = ["ConvDecoder", "MLPDecoder", "make_decoder", "maps_to_params"]


def maps_to_params(
    out: torch.Tensor, batch: tuple[int, ...], event_shape: tuple[int, ...], params_per_dim: int
) -> torch.Tensor:
    """A convolutional decoder's output maps ``(prod(batch), C * P, H, W)`` (channel ``c * P + p``
    holds parameter ``p`` of colour channel ``c``) as ``(*batch, C, H, W, P)``."""
    c, h, w = event_shape
    out = out.reshape(-1, c, params_per_dim, h, w).permute(0, 1, 3, 4, 2)
    return out.reshape(*batch, c, h, w, params_per_dim)


class MLPDecoder(nn.Module):
    """Exactly the hidden layers ``hidden_dims`` (plain ``mlp`` with ``activation``, or
    ``gated-mlp``), then a linear output layer:
    ``(..., L) -> (..., *event_shape, params_per_dim)``. ``hidden_dims = [400]`` with L = 50 and
    784 pixels is the 50-400-784 decoder."""

    def __init__(
        self,
        latent_dim: int,
        hidden_dims: Sequence[int],
        event_shape: tuple[int, ...],
        params_per_dim: int,
        activation: str = "relu",
        network: str = "mlp",
    ):
        super().__init__()
        self.event_shape, self.params_per_dim = tuple(event_shape), params_per_dim
        self.net = make_mlp(
            network, latent_dim, hidden_dims, math.prod(event_shape) * params_per_dim, activation
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        return out.reshape(*z.shape[:-1], *self.event_shape, self.params_per_dim)


class ConvDecoder(nn.Module):
    """Linear to a (H/4, W/4) map with ``2 * max(hidden_dims[-1] // 8, 8)`` channels, two ×2
    transposed convolutions, crop, 1×1 output."""

    def __init__(
        self,
        latent_dim: int,
        hidden_dims: Sequence[int],
        event_shape: tuple[int, ...],
        params_per_dim: int,
        activation: str = "relu",
    ):
        super().__init__()
        c, h, w = conv_image_shape(event_shape)
        act = activation_class(activation)
        self.event_shape, self.params_per_dim = tuple(event_shape), params_per_dim
        self.ch = max(hidden_dims[-1] // 8, 8)
        self.hh, self.ww = (h + 3) // 4, (w + 3) // 4
        self.fc = nn.Sequential(nn.Linear(latent_dim, 2 * self.ch * self.hh * self.ww), act())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * self.ch, self.ch, 4, stride=2, padding=1),
            act(),
            nn.ConvTranspose2d(self.ch, self.ch, 4, stride=2, padding=1),
            act(),
            nn.Conv2d(self.ch, c * params_per_dim, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        batch = z.shape[:-1]
        c, h, w = self.event_shape
        out = self.deconv(
            self.fc(z.reshape(-1, z.shape[-1])).view(-1, 2 * self.ch, self.hh, self.ww)
        )
        return maps_to_params(out[..., :h, :w], batch, self.event_shape, self.params_per_dim)


@DECODERS.register("mlp", "hidden_dims fully connected layers to every pixel's parameters")
def _mlp_decoder(latent_dim, hidden_dims, event_shape, params_per_dim, activation="relu"):
    return MLPDecoder(latent_dim, hidden_dims, event_shape, params_per_dim, activation, "mlp")


@DECODERS.register(
    "gated-mlp", "gated dense layers (Tomczak & Welling 2018)", reads=GATED_MLP_READS
)
def _gated_mlp_decoder(latent_dim, hidden_dims, event_shape, params_per_dim, activation="relu"):
    return MLPDecoder(latent_dim, hidden_dims, event_shape, params_per_dim, activation, "gated-mlp")


DECODERS.register("conv", "linear map, two x2 transposed convolutions, 1x1 output")(ConvDecoder)


def make_decoder(
    network: str,
    latent_dim: int,
    hidden_dims: int | Sequence[int],
    event_shape,
    params_per_dim: int,
    activation: str = "relu",
) -> nn.Module:
    """The decoder registered as ``network`` (``pgm.DECODERS``), called as
    ``factory(latent_dim, hidden_dims, event_shape, params_per_dim, activation)``;
    ``hidden_dims`` are listed from the latent side to the pixels (an int ``h`` means ``[h]``)."""
    dims = [hidden_dims] if isinstance(hidden_dims, int) else list(hidden_dims)
    factory = DECODERS[DECODERS.check(network, "network")]
    decoder = factory(latent_dim, dims, tuple(event_shape), params_per_dim, activation)
    # a plug-in's network keeps its author's initialisation under weight_init = "he"
    return decoder if DECODERS.builtin(network) else keep_initialisation(decoder)
