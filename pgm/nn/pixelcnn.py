"""The PixelCNN network: a mask-A convolution, mask-B residual blocks, 1×1 outputs.

Stacked masked convolutions (van den Oord et al. 2016a, section 3.5): the receptive field
grows by ``kernel_size // 2`` per layer upwards, leftwards and rightwards, but the centre
row's mask cuts off what lies right of the column above the centre, so the stack has a
*blind spot* up and to the right (van den Oord et al. 2016b, figure 1) — the gated PixelCNN
(:mod:`pgm.nn.gated_pixelcnn`) removes it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .autoregressive_network import AutoregressiveNetwork, OutputHead
from .conditioning import add_term
from .masked_conv import MaskedConv2d
from .streaming import StreamCursor

__all__ = ["PixelCNNNetwork"]


class PixelCNNNetwork(AutoregressiveNetwork):
    """``x: (N, C, H, W), context -> (N, out_channels, H, W)``.

    Layers: ``MaskedConv2d(C, F, first_kernel_size, "A")``; ``num_layers`` residual blocks
    ``h + MaskedConv2d(F, F, kernel_size, "B")(relu(h))``; then ReLU, a 1×1 mask-B layer,
    ReLU and a 1×1 mask-B layer to ``out_channels``. Every block adds its conditioning term
    (a context vector's linear map or a context map's 1×1 convolution).

    :param image_channels: C.
    :param out_channels: C * P, P parameters per channel.
    :param hidden_channels: F.
    :param num_layers: residual blocks.
    :param kernel_size: the blocks' kernel size (odd).
    :param first_kernel_size: the mask-A layer's kernel size (odd).
    :param context_shape: ``(D,)``, ``(S, H, W)`` or None.

    References:
        A. van den Oord, N. Kalchbrenner, K. Kavukcuoglu. "Pixel Recurrent Neural Networks."
        ICML 2016.
    """

    supports_streaming = True

    def __init__(
        self,
        image_channels: int,
        out_channels: int,
        hidden_channels: int = 32,
        num_layers: int = 5,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        context_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(image_channels, out_channels, context_shape)
        c, f = image_channels, hidden_channels
        self.input_conv = MaskedConv2d(c, f, first_kernel_size, "A", c)
        self.blocks = nn.ModuleList(
            MaskedConv2d(f, f, kernel_size, "B", c) for _ in range(num_layers)
        )
        self.head = OutputHead(f, out_channels, c)
        self.conditioning = self._conditioning_for([f] * (num_layers + 1))

    def _forward(self, x: torch.Tensor, terms: list) -> torch.Tensor:
        # terms are whole maps (N, ·, H, W) in a full pass, (N, ·) at one pixel in a stream, where
        # the first layer returns its output at that pixel
        h = add_term(self.input_conv(x), terms[0])
        for block, term in zip(self.blocks, terms[1:], strict=True):
            h = add_term(h + block(F.relu(h)), term)
        return self.head(h)

    def _step(
        self, x: torch.Tensor, i: int, j: int, terms: list, cursor: StreamCursor
    ) -> torch.Tensor:
        cursor.at_pixel(i, j)
        terms = [None if t is None else cursor.select(t) for t in terms]
        return self._forward(x, terms)  # the mask-A layer reads x at the cursor
