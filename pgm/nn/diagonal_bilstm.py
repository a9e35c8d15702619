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

In a stream (sampling, see :mod:`pgm.nn.streaming`) the layer computes one pixel at a time.
The left-to-right state at (i, j) needs only the input there and the states above, (i - 1, j),
and to the left, (i, j - 1): one cell update per pixel. The right-to-left states of row i - 1
depend on that whole row, which is final once row i begins, and the layer's output in row i
reads only those (the shift down): so at the first pixel of each row one right-to-left sweep
computes row i - 1, from the cached inputs of that row and the right-to-left states of row
i - 2. The skew's zero padding makes the state left of pixel (i, 0) (right of (i, W - 1) in the
other direction) a data-independent constant J_{i-1}, the LSTM run i steps on zero input; the
stream computes those once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masked_conv import MaskedConv2d
from .row_lstm import lstm_cell
from .streaming import StreamCursor, StreamingModule

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

    # --- one pixel at a time (for DiagonalBiLSTM's stream) ---------------------------------

    def pixel_step(
        self,
        inputs: torch.Tensor,
        above: torch.Tensor,
        left: torch.Tensor,
        left_cell: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The cell update at one pixel, as the column loop of :meth:`forward` does it:
        ``inputs (N, 4F)`` (the input-to-state term there), the hidden states above and to the
        left and the cell to the left, ``(·, F)`` each -> ``(hidden, cell)``, ``(N, F)`` each."""
        w = self.state_to_state.weight  # (4F, F, 2): tap 0 reads the row above, tap 1 this row
        n = inputs.shape[0]
        neighbours = torch.cat([above.expand(n, -1), left.expand(n, -1)], dim=-1)
        weight = w.permute(0, 2, 1).reshape(w.shape[0], -1)  # (4F, 2F): [above, left] taps
        gates = inputs + F.linear(neighbours, weight, self.state_to_state.bias)
        return lstm_cell(gates, left_cell)

    def edge_states(self, steps: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(hidden, cell)``, ``(steps, F)`` each: J_k, the state after k + 1 columns of the skew's
        zero padding, which is what pixel (k + 1, 0) finds to its left in :meth:`forward`
        (both of its neighbours at step k were padding too, J_{k-1})."""
        hidden = cell = like.new_zeros(1, self.hidden_channels)
        zeros = like.new_zeros(1, 4 * self.hidden_channels)
        hiddens, cells = [], []
        for _ in range(steps):
            hidden, cell = self.pixel_step(zeros, hidden, hidden, cell)
            hiddens.append(hidden)
            cells.append(cell)
        if not hiddens:
            return like.new_zeros(0, self.hidden_channels), like.new_zeros(0, self.hidden_channels)
        return torch.cat(hiddens), torch.cat(cells)


class DiagonalBiLSTM(StreamingModule):
    """``x: (N, in_channels, H, W) -> (N, hidden_channels, H, W)``: the left-to-right
    :class:`DiagonalLSTM` plus the right-to-left one shifted down one row. In a stream it takes
    the input at one pixel, ``(N, in_channels)``, and returns its output there (module doc)."""

    def __init__(self, in_channels: int, hidden_channels: int, image_channels: int = 1) -> None:
        super().__init__()
        self.left_to_right = DiagonalLSTM(in_channels, hidden_channels, image_channels)
        self.right_to_left = DiagonalLSTM(in_channels, hidden_channels, image_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._cursor is not None:
            return self._forward_at_cursor(x)
        left = self.left_to_right(x)
        right = self.right_to_left(x.flip(-1)).flip(-1)
        # the right-to-left state at (i, j) has read (i, j' > j): use the row above's instead
        right = F.pad(right, (0, 0, 1, 0))[:, :, :-1]
        return left + right

    # --- streaming -------------------------------------------------------------------------

    def begin_stream(self, cursor: StreamCursor, batch: int, height: int, width: int, like) -> None:
        super().begin_stream(cursor, batch, height, width, like)
        f = self.left_to_right.hidden_channels
        self._row = -1
        # per direction: hidden and cell of the row being written and of the row above
        state = lambda: like.new_zeros(batch, f, width)  # noqa: E731
        self._left = [state(), state(), state(), state()]  # hidden, cell; hidden above, cell above
        self._right_above = state()  # right-to-left hidden of row i - 1: this row's shifted output
        self._right_inputs = like.new_zeros(batch, 4 * f, width)  # its input-to-state, this row
        self._left_edge = self.left_to_right.edge_states(max(height - 1, 0), like)
        self._right_edge = self.right_to_left.edge_states(max(height - 1, 0), like)

    def end_stream(self) -> None:
        super().end_stream()
        self._left = self._right_above = self._right_inputs = None
        self._left_edge = self._right_edge = None

    def _forward_at_cursor(self, x: torch.Tensor) -> torch.Tensor:
        i, j = self._cursor.row, self._cursor.col
        if j is None or x.dim() != 2:
            raise ValueError(
                f"x: a DiagonalBiLSTM streams one pixel (N, F) at a time; found {tuple(x.shape)}"
            )
        if i != self._row:
            self._new_row(i)
        hidden, cell, above, _ = self._left
        if j > 0:
            left, left_cell = hidden[:, :, j - 1], cell[:, :, j - 1]
        elif i > 0:  # the skew's padding left of (i, 0)
            left, left_cell = self._left_edge[0][i - 1 : i], self._left_edge[1][i - 1 : i]
        else:
            left = left_cell = torch.zeros_like(above[:, :, 0])
        h, c = self.left_to_right.pixel_step(
            self.left_to_right.input_to_state(x), above[:, :, j], left, left_cell
        )
        hidden[:, :, j], cell[:, :, j] = h, c
        self._right_inputs[:, :, j] = self.right_to_left.input_to_state(x)
        return h + self._right_above[:, :, j]

    def _new_row(self, i: int) -> None:
        """Row i begins: row i - 1 is final, so sweep it right to left; the left-to-right states
        of row i - 1 become the row above."""
        if i != self._row + 1:
            raise ValueError(f"cursor: expected row {self._row + 1} next (raster order); found {i}")
        if i > 0:
            self._sweep_right_to_left(i - 1)
            hidden, cell, _, _ = self._left
            self._left = [torch.zeros_like(hidden), torch.zeros_like(cell), hidden, cell]
        self._row = i

    def _sweep_right_to_left(self, row: int) -> None:
        above = self._right_above  # row - 1's right-to-left hidden (zeros above row 0)
        hidden, cell = torch.zeros_like(above), torch.zeros_like(above)
        width = above.shape[-1]
        for j in range(width - 1, -1, -1):
            if j < width - 1:
                right, right_cell = hidden[:, :, j + 1], cell[:, :, j + 1]
            elif row > 0:  # the skew's padding right of (row, W - 1), mirrored
                right = self._right_edge[0][row - 1 : row]
                right_cell = self._right_edge[1][row - 1 : row]
            else:
                right = right_cell = torch.zeros_like(above[:, :, 0])
            hidden[:, :, j], cell[:, :, j] = self.right_to_left.pixel_step(
                self._right_inputs[:, :, j], above[:, :, j], right, right_cell
            )
        self._right_above = hidden
