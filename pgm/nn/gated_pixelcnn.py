"""The gated PixelCNN network: vertical and horizontal stacks, gated units, no blind spot.

van den Oord et al. (2016b) split each layer into two stacks. The *vertical* stack sees
every pixel in the rows above, whole kernel width; the *horizontal* stack sees the pixels
left of the current one in its row and, through a 1×1 link, the vertical stack's features
of the row above. Together they cover every earlier pixel within the receptive field,
including the region up and to the right that plain masked convolutions miss. Each layer
uses the gated unit (their eq. 2, with conditioning as eq. 4-5):

.. math:: y = \\tanh(W_f * x + V_f h) \\odot \\sigma(W_g * x + V_g h).

The vertical stack here computes features of rows ``<= i`` (mask ``"V"``) and is shifted
down one row before it enters the horizontal stack, as in the paper's implementation,
so the horizontal stack at row i receives only rows ``< i``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import PgmError
from .autoregressive_network import AutoregressiveNetwork, OutputHead
from .conditioning import add_term
from .masked_conv import MaskedConv2d
from .streaming import StreamCursor, StreamingModule

__all__ = ["GatedPixelCNNNetwork", "gate", "shift_down"]


def gate(y: torch.Tensor) -> torch.Tensor:
    """The gated unit ``tanh(a) * sigmoid(b)`` of ``y = [a, b]`` split on dim 1:
    ``(N, 2F, ·) -> (N, F, ·)``."""
    a, b = y.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move a map ``(N, F, H, W)`` down one row (zeros enter at the top): row i gets row i - 1."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


class GatedPixelCNNNetwork(AutoregressiveNetwork, StreamingModule):
    """``x: (N, C, H, W), context -> (N, out_channels, H, W)``; ``num_layers`` gated layers.

    Layer l (``F = hidden_channels``):

    - vertical: ``v_pre = MaskedConv2d(·, 2F, k×k, "V")(v) + cond``, ``v = gate(v_pre)``;
    - horizontal: ``h_pre = MaskedConv2d(·, 2F, 1×k, "A" first / "B")(h) + link(shift_down(v_pre))
      + cond``, ``h = h + MaskedConv2d(F, F, 1, "B")(gate(h_pre))`` (no residual in layer 0,
      whose input is the image);

    then the output head (ReLU, 1×1, ReLU, 1×1). Layer 0 uses ``first_kernel_size``.

    In a stream, the vertical stack runs once per image row (on the finished row above)
    and the horizontal stack once per pixel.

    References:
        A. van den Oord, N. Kalchbrenner, O. Vinyals, L. Espeholt, A. Graves, K. Kavukcuoglu.
        "Conditional Image Generation with PixelCNN Decoders." NeurIPS 2016.
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
        if num_layers < 1:
            raise PgmError(f"num_layers: expected an integer >= 1; found {num_layers}")
        c, f = image_channels, hidden_channels
        sizes = [first_kernel_size] + [kernel_size] * (num_layers - 1)
        inputs = [c] + [f] * (num_layers - 1)
        self.vertical = nn.ModuleList(
            MaskedConv2d(n, 2 * f, k, "V") for n, k in zip(inputs, sizes, strict=True)
        )
        self.horizontal = nn.ModuleList(
            MaskedConv2d(n, 2 * f, (1, k), "A" if layer == 0 else "B", c, out_chunks=2)
            for layer, (n, k) in enumerate(zip(inputs, sizes, strict=True))
        )
        # the shifted vertical features depend on earlier rows only: no mask needed
        self.links = nn.ModuleList(MaskedConv2d(2 * f, 2 * f, 1, None) for _ in sizes)
        self.residuals = nn.ModuleList(MaskedConv2d(f, f, 1, "B", c) for _ in sizes)
        self.head = OutputHead(f, out_channels, c)
        # terms 2l and 2l + 1 condition the vertical and the horizontal stack of layer l
        self.conditioning = self._conditioning_for([2 * f] * (2 * num_layers))

    def _vertical(self, x: torch.Tensor, terms: list) -> list[torch.Tensor]:
        """Each layer's vertical pre-activations (unshifted), for the links."""
        v, pre_activations = x, []
        for layer, conv in enumerate(self.vertical):
            pre = add_term(conv(v), terms[2 * layer])
            pre_activations.append(pre)
            v = gate(pre)
        return pre_activations

    def _horizontal(self, x: torch.Tensor, links: list[torch.Tensor], terms: list) -> torch.Tensor:
        h = x
        for layer, (conv, link, residual) in enumerate(
            zip(self.horizontal, self.links, self.residuals, strict=True)
        ):
            pre = add_term(conv(h) + link(links[layer]), terms[2 * layer + 1])
            out = residual(gate(pre))
            h = out if layer == 0 else h + out
        return self.head(h)

    def _forward(self, x: torch.Tensor, terms: list) -> torch.Tensor:
        links = [shift_down(v) for v in self._vertical(x, terms)]
        return self._horizontal(x, links, terms)

    # --- streaming -------------------------------------------------------------------------

    def begin_stream(self, cursor, batch, height, width, like) -> None:
        super().begin_stream(cursor, batch, height, width, like)
        self._row = -1
        # row 0 has nothing above it: the shifted vertical features are zeros there
        f2 = self.links[0].in_channels
        self._links_row = [like.new_zeros(batch, f2, width) for _ in self.links]

    def end_stream(self) -> None:
        super().end_stream()
        self._links_row = None

    def _step(
        self, x: torch.Tensor, i: int, j: int, terms: list, cursor: StreamCursor
    ) -> torch.Tensor:
        if i != self._row:
            if i > 0:  # row i - 1 is finished: run the vertical stack on it, once
                cursor.at_row(i - 1)
                row_terms = [None if t is None else cursor.select(t) for t in terms]
                self._links_row = self._vertical(x, row_terms)
            self._row = i
        cursor.at_pixel(i, j)
        pixel_terms = [None if t is None else cursor.select(t) for t in terms]
        links = [v[:, :, j] for v in self._links_row]
        return self._horizontal(x, links, pixel_terms)
