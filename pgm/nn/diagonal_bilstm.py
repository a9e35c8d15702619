"""The Diagonal BiLSTM layer: LSTMs along the image's diagonals, in both directions.

van den Oord et al. (2016a, section 3.2). The map is *skewed*, row r shifted right by r,
so that each diagonal of the image becomes a column; an LSTM then runs over the columns,
left to right, its state-to-state component a 2×1 convolution over the previous column
(which holds each pixel's left and upper neighbours), its input-to-state component a 1×1
mask-B convolution. Unskewing gives the left-to-right output, whose state at (i, j) sees
everything above and left of the pixel. A second LSTM runs right to left (on the mirrored
map) to cover the region up and to the right; its state at (i, j) has seen pixels right of
(i, j) in row i, so its output is shifted down one row before the two are added — then no
future pixel leaks, and one layer's receptive field is the whole context but for the last
pixel of the row above (the input features at a pixel exclude that pixel's own value, so
only the first convolution, from row i, can reach it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masked_conv import MaskedConv2d
from .row_lstm import lstm_cell

__all__ = ["DiagonalBiLSTM", "DiagonalLSTM", "skew", "unskew"]


def _diagonal_index(height: int, width: int, device: torch.device) -> torch.Tensor:
    """``index[r, c] = r + c``: the skewed column of pixel (r, c)."""
    rows = torch.arange(height, device=device)[:, None]
    return rows + torch.arange(width, device=device)[None, :]


def skew(x: torch.Tensor) -> torch.Tensor:
    """Shift row r right by r: ``(N, F, H, W) -> (N, F, H, W + H - 1)``, zeros elsewhere.

    Column k of the result is the diagonal ``{(r, k - r)}`` of the image.
    """
    n, f, height, width = x.shape
    index = _diagonal_index(height, width, x.device).expand(n, f, height, width)
    return x.new_zeros(n, f, height, width + height - 1).scatter(3, index, x)


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """The inverse of :func:`skew`: ``(N, F, H, W + H - 1) -> (N, F, H, W)``."""
    n, f, height, _ = x.shape
    index = _diagonal_index(height, width, x.device).expand(n, f, height, width)
    return x.gather(3, index)


class DiagonalLSTM(nn.Module):
    """One direction, left to right: ``x: (N, in_channels, H, W) -> (N, hidden_channels, H, W)``;
    the state at (i, j) sees the input at (i', j') for ``i' <= i, j' <= j``."""

    def __init__(self, in_channels: int, hidden_channels: int, image_channels: int = 1) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.input_to_state = MaskedConv2d(
            in_channels, 4 * hidden_channels, 1, "B", image_channels, out_chunks=4
        )
        # over a column with a zero row on top: row r reads rows r - 1 and r of the previous
        # column, i.e. the pixel above and the pixel to the left
        self.state_to_state = nn.Conv1d(hidden_channels, 4 * hidden_channels, kernel_size=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = skew(self.input_to_state(x))  # (N, 4F, H, W + H - 1)
        n, _, height, columns = inputs.shape
        hidden = cell = inputs.new_zeros(n, self.hidden_channels, height)
        outputs = []
        # unbind once (not inputs[..., k] per step): see RowLSTM.forward
        for column in inputs.unbind(-1):
            gates = column + self.state_to_state(F.pad(hidden, (1, 0)))
            hidden, cell = lstm_cell(gates, cell)
            outputs.append(hidden)
        return unskew(torch.stack(outputs, dim=-1), x.shape[-1])


class DiagonalBiLSTM(nn.Module):
    """``x: (N, in_channels, H, W) -> (N, hidden_channels, H, W)``: the left-to-right
    :class:`DiagonalLSTM` plus the right-to-left one shifted down one row."""

    def __init__(self, in_channels: int, hidden_channels: int, image_channels: int = 1) -> None:
        super().__init__()
        self.left_to_right = DiagonalLSTM(in_channels, hidden_channels, image_channels)
        self.right_to_left = DiagonalLSTM(in_channels, hidden_channels, image_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = self.left_to_right(x)
        right = self.right_to_left(x.flip(-1)).flip(-1)
        # the right-to-left state at (i, j) has read (i, j' > j): use the row above's instead
        right = F.pad(right, (0, 0, 1, 0))[:, :, :-1]
        return left + right
