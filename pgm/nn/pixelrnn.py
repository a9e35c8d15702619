"""The PixelRNN network: a mask-A convolution, residual recurrent layers, 1×1 outputs.

van den Oord et al. (2016a, section 3 and table 1): a 7×7 mask-A convolution, then layers
of Row LSTM (:mod:`pgm.nn.row_lstm`) or Diagonal BiLSTM (:mod:`pgm.nn.diagonal_bilstm`),
each with a residual connection through a 1×1 mask-B convolution (their section 3.3), then
the ReLU/1×1 output stage.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import PgmError
from .autoregressive_network import AutoregressiveNetwork, OutputHead
from .conditioning import add_term
from .diagonal_bilstm import DiagonalBiLSTM
from .masked_conv import MaskedConv2d
from .row_lstm import RowLSTM
from .streaming import StreamCursor

__all__ = ["RECURRENT_LAYERS", "PixelRNNNetwork"]

RECURRENT_LAYERS = ("row-lstm", "diagonal-bilstm")


class PixelRNNNetwork(AutoregressiveNetwork):
    """``x: (N, C, H, W), context -> (N, out_channels, H, W)``.

    Layers: ``MaskedConv2d(C, F, first_kernel_size, "A")``; ``num_layers`` times
    ``h = h + MaskedConv2d(F, F, 1, "B")(layer(h + cond))``; the output head.

    :param layer: ``"row-lstm"`` (streams pixel by pixel for fast sampling, carrying its state
        from row to row) or ``"diagonal-bilstm"`` (whole context in one layer; streams pixel by
        pixel too, sweeping the right-to-left direction once per finished row).
    :param kernel_size: the Row LSTM's k (the Diagonal BiLSTM's kernels are fixed, 1×1 and 2×1).
    Others as :class:`pgm.nn.pixelcnn.PixelCNNNetwork`.

    References:
        A. van den Oord, N. Kalchbrenner, K. Kavukcuoglu. "Pixel Recurrent Neural Networks."
        ICML 2016.
    """

    def __init__(
        self,
        image_channels: int,
        out_channels: int,
        hidden_channels: int = 32,
        num_layers: int = 2,
        layer: str = "row-lstm",
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        context_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(image_channels, out_channels, context_shape)
        if layer not in RECURRENT_LAYERS:
            raise PgmError(f"layer: expected one of {', '.join(RECURRENT_LAYERS)}; found {layer!r}")
        c, f = image_channels, hidden_channels
        self.layer = layer
        self.supports_streaming = True
        self.input_conv = MaskedConv2d(c, f, first_kernel_size, "A", c)
        if layer == "row-lstm":
            self.recurrent = nn.ModuleList(RowLSTM(f, f, kernel_size, c) for _ in range(num_layers))
        else:
            self.recurrent = nn.ModuleList(DiagonalBiLSTM(f, f, c) for _ in range(num_layers))
        self.residuals = nn.ModuleList(MaskedConv2d(f, f, 1, "B", c) for _ in range(num_layers))
        self.head = OutputHead(f, out_channels, c)
        self.conditioning = self._conditioning_for([f] * num_layers)

    def _forward(self, x: torch.Tensor, terms: list) -> torch.Tensor:
        # whole maps in a full pass, one pixel (N, ·) in a stream
        h = self.input_conv(x)
        for recurrent, residual, term in zip(self.recurrent, self.residuals, terms, strict=True):
            h = h + residual(recurrent(add_term(h, term)))
        return self.head(h)

    def _step(
        self, x: torch.Tensor, i: int, j: int, terms: list, cursor: StreamCursor
    ) -> torch.Tensor:
        cursor.at_pixel(i, j)
        return self._forward(x, [None if t is None else cursor.select(t) for t in terms])

    def extra_repr(self) -> str:
        return f"layer={self.layer!r}"
