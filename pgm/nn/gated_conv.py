"""The gated convolutional networks of the VampPrior authors' convolutional HVAE (Tomczak &
Welling 2018, their code's ``models/convHVAE_2level.py``): convolutions gated like the gated
dense layers, h = conv_1(x) * sigmoid(conv_2(x)).

- :class:`GatedConvEncoder` (``network = "gated-conv"``): five gated convolutions of 32, 32, 64,
  64 and 6 channels (kernels 7, 3, 5, 3, 3; the second and fourth of stride 2), flattened: a
  28×28 image gives 6 · 7 · 7 = 294 features, which the Gaussian heads read directly.
  ``hidden_dims`` is not read. :data:`TOWER_LAYERS` is the authors' x tower of q(z1 | x, z2),
  the same with 3×3 kernels throughout.
- :class:`GatedConvDecoder`: one gated dense layer from the code to an image-sized map, four
  3×3 gated convolutions of 64 channels, then a 1×1 convolution to every pixel's parameters.
  ``hidden_dims`` is not read (under ``hvae`` with ``decoder_input = "per-layer"`` the dense
  towers on z1 and z2 are the hidden layers, as in the authors' code).

References:
    J. M. Tomczak, M. Welling. "VAE with a VampPrior." AISTATS 2018.
    Y. N. Dauphin et al. "Language modeling with gated convolutional networks." ICML 2017.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..registry import DECODERS, ENCODERS
from .decoders import maps_to_params
from .encoders import conv_image_shape, scale_pixels
from .gated_mlp import GatedDense

__all__ = ["ENCODER_LAYERS", "TOWER_LAYERS", "GatedConv2d", "GatedConvDecoder", "GatedConvEncoder"]

#: (out_channels, kernel, stride) of the encoder's layers: the authors' q(z2 | x)
ENCODER_LAYERS = ((32, 7, 1), (32, 3, 2), (64, 5, 1), (64, 3, 2), (6, 3, 1))
#: the authors' x tower of q(z1 | x, z2): the same channels and strides, 3×3 kernels
TOWER_LAYERS = ((32, 3, 1), (32, 3, 2), (64, 3, 1), (64, 3, 2), (6, 3, 1))


class GatedConv2d(nn.Module):
    """A gated convolution, ``(N, C_in, H, W) -> (N, C_out, H', W')``:

    .. math:: h = (W_1 * x + b_1) \\odot \\sigma(W_2 * x + b_2)

    ``self.h`` holds (W1, b1), ``self.gate`` (W2, b2); padding ``kernel_size // 2`` keeps the
    size at stride 1 and halves it (rounding up) at stride 2. No activation follows the gate.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        padding = kernel_size // 2
        self.h = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.gate = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(x) * torch.sigmoid(self.gate(x))


def _out_size(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


class GatedConvEncoder(nn.Module):
    """Gated convolutions ``layers`` (default :data:`ENCODER_LAYERS`), flattened, then a linear
    layer to ``out_features`` when it is given:
    ``(..., C, H, W) -> (..., out_features or channels · H' · W')``. ``hidden_dims`` and
    ``activation`` are accepted for the encoder registry's signature and not read (the gates
    are the non-linearity)."""

    def __init__(
        self,
        event_shape: tuple[int, ...],
        num_levels: int,
        hidden_dims: Sequence[int] = (),
        out_features: int | None = None,
        activation: str = "relu",
        centred: bool = True,
        layers: Sequence[tuple[int, int, int]] = ENCODER_LAYERS,
    ):
        super().__init__()
        c, h, w = conv_image_shape(event_shape)
        self.event_shape, self.num_levels, self.centred = (c, h, w), num_levels, centred
        convs = []
        for channels, kernel, stride in layers:
            convs.append(GatedConv2d(c, channels, kernel, stride))
            c, h, w = channels, _out_size(h, kernel, stride), _out_size(w, kernel, stride)
        self.conv = nn.Sequential(*convs)
        features = c * h * w
        self.head = nn.Identity() if out_features is None else nn.Linear(features, out_features)
        self.out_features = features if out_features is None else out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[:-3]
        h = scale_pixels(x, self.num_levels, self.centred).reshape(-1, *self.event_shape)
        return self.head(self.conv(h).flatten(1)).reshape(*batch, -1)


class GatedConvDecoder(nn.Module):
    """A gated dense layer from the code to a ``(C, H, W)`` map, ``num_layers`` 3×3 gated
    convolutions of ``channels``, then a 1×1 convolution:
    ``(..., L) -> (..., C, H, W, params_per_dim)``. ``hidden_dims`` and ``activation`` are
    accepted for the decoder registry's signature and not read."""

    def __init__(
        self,
        latent_dim: int,
        hidden_dims: Sequence[int],
        event_shape: tuple[int, ...],
        params_per_dim: int,
        activation: str = "relu",
        channels: int = 64,
        num_layers: int = 4,
    ):
        super().__init__()
        c, h, w = conv_image_shape(event_shape)
        self.event_shape, self.params_per_dim = (c, h, w), params_per_dim
        self.fc = GatedDense(latent_dim, c * h * w)
        widths = [c] + [channels] * num_layers
        self.conv = nn.Sequential(
            *(GatedConv2d(a, b, 3) for a, b in zip(widths[:-1], widths[1:], strict=True)),
            nn.Conv2d(widths[-1], c * params_per_dim, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.conv(self.fc(z.reshape(-1, z.shape[-1])).view(-1, *self.event_shape))
        return maps_to_params(out, z.shape[:-1], self.event_shape, self.params_per_dim)


@ENCODERS.register(
    "gated-conv", "five gated convolutions, flattened (Tomczak & Welling 2018)", reads=()
)
def _gated_conv_encoder(
    event_shape, num_levels, hidden_dims, out_features=None, activation="relu", centred=True
):
    return GatedConvEncoder(event_shape, num_levels, hidden_dims, out_features, activation, centred)


@DECODERS.register(
    "gated-conv",
    "gated dense layer to an image, four gated 3x3 convolutions, 1x1 output",
    reads=(),  # its layers are the authors', fixed; its gates are its non-linearity
)
def _gated_conv_decoder(latent_dim, hidden_dims, event_shape, params_per_dim, activation="relu"):
    return GatedConvDecoder(latent_dim, hidden_dims, event_shape, params_per_dim, activation)
