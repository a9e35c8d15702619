"""The contract of an autoregressive image network, and its pixel-at-a-time evaluation for sampling.

A network maps an image ``x: (N, C, H, W)`` (scaled to [-1, 1] by the distribution that
owns it) and an optional context to per-pixel parameters ``(N, out_channels, H, W)``,
where ``out_channels = C * P``: P parameters per image channel, in C contiguous groups
(R, G, B). The parameters of channel c at pixel (i, j) may depend only on the pixels before
(i, j) in raster order and on channels ``< c`` of pixel (i, j) itself. A network never knows
which distribution it parameterises; the distribution owns shapes, scaling and likelihood.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import PgmError
from .conditioning import ContextProjection
from .masked_conv import MaskedConv2d
from .streaming import StreamCursor, open_stream

__all__ = ["AutoregressiveNetwork", "OutputHead", "PixelStep"]

#: ``step(x, i, j) -> (N, out_channels)``: the parameters at pixel (i, j) given the image so far.
PixelStep = Callable[[torch.Tensor, int, int], torch.Tensor]


class AutoregressiveNetwork(nn.Module):
    """Base class: ``forward(x: (N, C, H, W), context=None) -> (N, out_channels, H, W)``.

    Subclasses build their layers, set ``self.conditioning = self._conditioning_for(widths)``
    (one term per conditioned layer, of ``widths[l]`` features) and implement
    ``_forward(x, terms)``.
    Those whose layers all stream (see :mod:`pgm.nn.streaming`) set
    ``supports_streaming = True`` and implement ``_step(x, i, j, terms, cursor)``.

    :param image_channels: C.
    :param out_channels: C * P.
    :param context_shape: ``(D,)``, ``(S, H, W)`` or None (unconditional).
    """

    supports_streaming: bool = False

    def __init__(
        self, image_channels: int, out_channels: int, context_shape: tuple[int, ...] | None = None
    ) -> None:
        super().__init__()
        if out_channels % image_channels:
            raise PgmError(
                f"out_channels: expected a multiple of image_channels={image_channels} "
                f"(P parameters per channel); found {out_channels}"
            )
        self.image_channels = int(image_channels)
        self.out_channels = int(out_channels)
        self.context_shape = None if context_shape is None else tuple(int(s) for s in context_shape)
        self.conditioning: ContextProjection | None = None
        self.num_terms = 0  # conditioned layers; set by _conditioning_for

    def _conditioning_for(self, widths: list[int]) -> ContextProjection | None:
        """The projection for layers of ``widths`` features (None when unconditional)."""
        self.num_terms = len(widths)
        return None if self.context_shape is None else ContextProjection(self.context_shape, widths)

    def context_terms(
        self, context: torch.Tensor | None, batch: int, height: int, width: int
    ) -> list[torch.Tensor | None]:
        """The per-layer conditioning terms (all None for an unconditional network)."""
        if self.conditioning is None:
            if context is not None:
                raise PgmError(
                    f"context: this network is unconditional (context_shape=None); "
                    f"found a context of shape {tuple(context.shape)}"
                )
            return [None] * self.num_terms
        if context is None:
            raise PgmError(f"context: expected shape {(batch,) + self.context_shape}; found None")
        self.conditioning.check(context, batch, height, width)
        return self.conditioning(context)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.image_channels:
            raise PgmError(
                f"x: expected shape (N, {self.image_channels}, H, W); found {tuple(x.shape)}"
            )
        n, _, height, width = x.shape
        return self._forward(x, self.context_terms(context, n, height, width))

    def _forward(self, x: torch.Tensor, terms: list) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _step(
        self, x: torch.Tensor, i: int, j: int, terms: list, cursor: StreamCursor
    ) -> torch.Tensor:  # pragma: no cover - only streaming networks
        raise NotImplementedError

    @contextmanager
    def stream(
        self, context: torch.Tensor | None, batch: int, height: int, width: int, like: torch.Tensor
    ) -> Iterator[PixelStep]:
        """Open a pixel-at-a-time evaluation for sampling: yields ``step(x, i, j) -> (N, out)``.

        ``step`` must be called in raster order (every channel of a pixel may be asked
        for in turn), with ``x: (N, C, H, W)`` holding every pixel before (i, j). A streaming
        network computes only what pixel (i, j) changes (Ramachandran et al. 2017); any other
        runs its full pass on rows ``0..i``, which is exact since no output at row i reads a
        later row.
        """
        if not self.supports_streaming:
            yield self._rows_so_far_step(context)
            return
        terms = self.context_terms(context, batch, height, width)
        terms = [None if t is None else t.expand(batch, -1, height, width) for t in terms]
        with open_stream(self, batch, height, width, like) as cursor:
            yield lambda x, i, j: self._step(x, i, j, terms, cursor)

    def _rows_so_far_step(self, context: torch.Tensor | None) -> PixelStep:
        def step(x: torch.Tensor, i: int, j: int) -> torch.Tensor:
            rows = context
            if context is not None and context.dim() == 4:  # a map context: its rows 0..i
                rows = context[:, :, : i + 1]
            return self(x[:, :, : i + 1], rows)[:, :, i, j]

        return step


class OutputHead(nn.Module):
    """ReLU, 1×1 mask-B convolution, ReLU, 1×1 mask-B convolution to the parameters
    (van den Oord et al. 2016a, table 1's output stage): ``(N, F, ·) -> (N, out_channels, ·)``."""

    def __init__(self, hidden_channels: int, out_channels: int, image_channels: int) -> None:
        super().__init__()
        self.hidden = MaskedConv2d(hidden_channels, hidden_channels, 1, "B", image_channels)
        self.output = MaskedConv2d(hidden_channels, out_channels, 1, "B", image_channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.output(F.relu(self.hidden(F.relu(h))))
