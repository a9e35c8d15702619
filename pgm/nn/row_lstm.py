"""The Row LSTM layer: an LSTM that processes an image row by row, from the top.

van den Oord et al. (2016a, section 3.1): the input-to-state component is a masked 1×k
convolution along the row (mask B: the pixel itself, by channel group, and those left of
it), computed for the whole map at once; the state-to-state component is a 1-D
convolution of width k over the previous row's hidden state. With both, the state at
(i, j) sees a triangle above the pixel (its receptive field does not reach the whole
context). The gates:

.. math:: [o_i, f_i, i_i, g_i] = \\sigma(K^{ss} \\circledast h_{i-1}
          + K^{is} \\circledast x_i),\\quad
          c_i = f_i \\odot c_{i-1} + i_i \\odot g_i,\\quad h_i = o_i \\odot \\tanh(c_i)

(with tanh for g). Each gate is a chunk of the input-to-state output, grouped by image
channel alike (``out_chunks=4``), so the element-wise cell keeps R before G before B.

In a stream (sampling) the layer carries its state row to row: the state-to-state term of
row i is computed once from the finished row i - 1, and each pixel adds its own
input-to-state term.
"""

from __future__ import annotations

import torch
from torch import nn

from .masked_conv import MaskedConv2d
from .streaming import StreamCursor, StreamingModule

__all__ = ["RowLSTM", "lstm_cell"]


def lstm_cell(gates: torch.Tensor, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM update, element-wise: ``gates (N, 4F, ·)`` as [output, forget, input, content]
    chunks on dim 1, previous ``cell (N, F, ·)`` -> ``(hidden, cell)``, each ``(N, F, ·)``."""
    o, f, i, g = gates.chunk(4, dim=1)
    cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(cell), cell


class RowLSTM(StreamingModule):
    """``x: (N, in_channels, H, W) -> h: (N, hidden_channels, H, W)``.

    :param in_channels: input features.
    :param hidden_channels: F, the state's features.
    :param kernel_size: k, odd, of both the input-to-state and the state-to-state convolutions.
    :param image_channels: C, for the channel groups of the input-to-state mask.
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, kernel_size: int = 3, image_channels: int = 1
    ) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.input_to_state = MaskedConv2d(
            in_channels, 4 * hidden_channels, (1, kernel_size), "B", image_channels, out_chunks=4
        )
        # the previous row is entirely in the past: no mask
        self.state_to_state = nn.Conv1d(
            hidden_channels, 4 * hidden_channels, kernel_size, padding=kernel_size // 2
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._cursor is not None:
            return self._forward_at_cursor(x)
        inputs = self.input_to_state(x)  # (N, 4F, H, W): every row at once
        n, _, height, width = inputs.shape
        hidden = cell = inputs.new_zeros(n, self.hidden_channels, width)
        rows = []
        # unbind once: indexing inputs[:, :, i] per step makes each backward step scatter into
        # a full-size zero tensor, so the backward pass grows quadratically with the height
        for row in inputs.unbind(2):
            hidden, cell = lstm_cell(row + self.state_to_state(hidden), cell)
            rows.append(hidden)
        return torch.stack(rows, dim=2)

    # --- streaming -------------------------------------------------------------------------

    def begin_stream(self, cursor: StreamCursor, batch: int, height: int, width: int, like) -> None:
        super().begin_stream(cursor, batch, height, width, like)
        self._row = -1
        self._above = None  # the state-to-state term of the current row, (N, 4F, W)
        self._hidden_above = like.new_zeros(batch, self.hidden_channels, width)
        self._cell_above = like.new_zeros(batch, self.hidden_channels, width)
        self._hidden = torch.zeros_like(self._hidden_above)
        self._cell = torch.zeros_like(self._cell_above)

    def end_stream(self) -> None:
        super().end_stream()
        self._hidden_above = self._cell_above = self._hidden = self._cell = self._above = None

    def _forward_at_cursor(self, x: torch.Tensor) -> torch.Tensor:
        i, j = self._cursor.row, self._cursor.col
        if i != self._row:  # a new row: the one being written becomes the one above
            if self._row >= 0:
                self._hidden_above, self._hidden = self._hidden, torch.zeros_like(self._hidden)
                self._cell_above, self._cell = self._cell, torch.zeros_like(self._cell)
            self._above = self.state_to_state(self._hidden_above)
            self._row = i
        hidden, cell = lstm_cell(
            self.input_to_state(x) + self._above[:, :, j], self._cell_above[:, :, j]
        )
        self._hidden[:, :, j] = hidden
        self._cell[:, :, j] = cell
        return hidden
