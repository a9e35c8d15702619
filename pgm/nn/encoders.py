"""Encoders: images ``(N, C, H, W)`` (or vectors ``(N, D)``) to a feature vector ``(N, F)``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import PgmError
from ..registry import ENCODERS
from .mlp import GATED_MLP_READS, activation_class, make_mlp
from .weight_init import keep_initialisation

__all__ = ["ConvEncoder", "MLPEncoder", "conv_image_shape", "make_encoder", "scale_pixels"]


def conv_image_shape(event_shape: Sequence[int]) -> tuple[int, int, int]:
    """``(C, H, W)`` of the images a convolutional network (``network = "conv"``) reads."""
    if len(event_shape) != 3:
        raise PgmError(f"network='conv': expected image_shape [C, H, W]; found {list(event_shape)}")
    c, h, w = event_shape
    return c, h, w


def scale_pixels(x: torch.Tensor, num_levels: int, centred: bool = True) -> torch.Tensor:
    """Map integer levels {0..K-1} to [-1, 1] (``centred``) or to [0, 1] (data without levels
    passes unchanged). The autoregressive networks read centred pixels; the built-in encoders
    read them centred too unless the config says ``encoder_input = "unit"``."""
    if num_levels and num_levels > 1:
        if centred:
            return x * (2.0 / (num_levels - 1)) - 1.0
        return x * (1.0 / (num_levels - 1))
    return x


class MLPEncoder(nn.Module):
    """Flatten, then exactly the layers ``hidden_dims`` (plain ``mlp`` with ``activation``, or
    ``gated-mlp``), then a linear layer to ``out_features`` when it is given:
    ``(..., *event_shape) -> (..., out_features or hidden_dims[-1])``.

    The guide's heads read the last hidden layer directly, so ``hidden_dims = [400]`` with 50
    latents is the 784-400-50 encoder.
    """

    def __init__(
        self,
        event_shape: tuple[int, ...],
        num_levels: int,
        hidden_dims: Sequence[int],
        out_features: int | None = None,
        activation: str = "relu",
        network: str = "mlp",
        centred: bool = True,
    ):
        super().__init__()
        self.event_shape, self.num_levels = tuple(event_shape), num_levels
        self.centred = centred
        self.net = make_mlp(network, math.prod(event_shape), hidden_dims, out_features, activation)
        self.out_features = self.net.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[: x.dim() - len(self.event_shape)]
        h = scale_pixels(x, self.num_levels, self.centred).reshape(*batch, -1)
        return self.net(h)


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions (``max(hidden_dims[0] // 8, 8)`` and twice that many channels),
    then a linear layer of width ``hidden_dims[-1]`` with ``activation``, then a linear layer to
    ``out_features`` when it is given: ``(..., C, H, W) -> (..., out_features or hidden_dims[-1])``.
    """

    def __init__(
        self,
        event_shape: tuple[int, ...],
        num_levels: int,
        hidden_dims: Sequence[int],
        out_features: int | None = None,
        activation: str = "relu",
        centred: bool = True,
    ):
        super().__init__()
        c, h, w = conv_image_shape(event_shape)
        act = activation_class(activation)
        self.event_shape, self.num_levels = tuple(event_shape), num_levels
        self.centred = centred
        ch = max(hidden_dims[0] // 8, 8)
        width = hidden_dims[-1]
        self.conv = nn.Sequential(
            nn.Conv2d(c, ch, 3, stride=2, padding=1),
            act(),
            nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1),
            act(),
        )
        hh, ww = (h + 3) // 4, (w + 3) // 4
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(2 * ch * hh * ww, width), act()]
        if out_features is not None:
            layers.append(nn.Linear(width, out_features))
        self.head = nn.Sequential(*layers)
        self.out_features = width if out_features is None else out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[:-3]
        h = scale_pixels(x, self.num_levels, self.centred).reshape(-1, *self.event_shape)
        return self.head(self.conv(h)).reshape(*batch, -1)


@ENCODERS.register("mlp", "hidden_dims fully connected layers with activation")
def _mlp_encoder(
    event_shape, num_levels, hidden_dims, out_features=None, activation="relu", centred=True
):
    return MLPEncoder(
        event_shape, num_levels, hidden_dims, out_features, activation, "mlp", centred
    )


@ENCODERS.register(
    "gated-mlp", "gated dense layers (Tomczak & Welling 2018)", reads=GATED_MLP_READS
)
def _gated_mlp_encoder(
    event_shape, num_levels, hidden_dims, out_features=None, activation="relu", centred=True
):
    return MLPEncoder(
        event_shape, num_levels, hidden_dims, out_features, activation, "gated-mlp", centred
    )


ENCODERS.register("conv", "two stride-2 convolutions, then a linear layer")(ConvEncoder)


def make_encoder(
    network: str,
    event_shape,
    num_levels: int,
    hidden_dims: int | Sequence[int],
    out_features: int | None = None,
    activation: str = "relu",
    centred: bool = True,
) -> nn.Module:
    """The encoder registered as ``network`` (``pgm.ENCODERS``: ``mlp``, ``gated-mlp``,
    ``conv``, and plug-ins' own), called as ``factory(event_shape, num_levels, hidden_dims,
    out_features, activation)``; ``hidden_dims`` is an int ``h`` (meaning ``[h]``) or a list.
    Without ``out_features`` it ends at its last hidden layer (a guide puts its heads there);
    the result has ``.out_features``. ``centred`` (``encoder_input``, centred by default)
    feeds the built-in encoders pixels in [-1, 1], else in [0, 1]; a plug-in encoder reads the
    integer levels and scales them itself."""
    dims = [hidden_dims] if isinstance(hidden_dims, int) else list(hidden_dims)
    factory = ENCODERS[ENCODERS.check(network, "network")]
    if not centred and ENCODERS.builtin(network):
        return factory(
            tuple(event_shape), num_levels, dims, out_features, activation, centred=False
        )
    encoder = factory(tuple(event_shape), num_levels, dims, out_features, activation)
    # a plug-in's network keeps its author's initialisation under weight_init = "he"
    return encoder if ENCODERS.builtin(network) else keep_initialisation(encoder)
