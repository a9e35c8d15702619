"""Streaming evaluation of causal networks: one row or one pixel at a time, from caches.

Sampling an autoregressive image model pixel by pixel with the whole network each time
repeats almost all of the work: a new pixel changes only the activations that can see it.
Ramachandran et al. (2017) cache every layer's activations and compute, per generated pixel,
only what the next output needs. Here the same forward code of a network serves both
passes: a layer that owns a cache (a masked convolution, a Row LSTM) is a
:class:`StreamingModule`; while a stream is open it receives the activation at the
:class:`StreamCursor` only (a pixel ``(N, F)`` or a row ``(N, F, W)``), writes it to its
cache and returns its own output there. Element-wise code (non-linearities, gates, residual
sums) cannot tell the difference, since the channel dimension stays dim 1.

This is exact because in a causal network the activation at pixel q depends only on the
previous layer at pixels up to q in raster order, so when pixel p is generated every cached
activation before p is final and nothing after p is needed.

References:
    P. Ramachandran, T. L. Paine, P. Khorrami, M. Babaeizadeh, S. Chang, Y. Zhang,
    M. A. Hasegawa-Johnson, R. H. Campbell, T. S. Huang. "Fast Generation for Convolutional
    Autoregressive Models." ICLR workshop 2017.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["StreamCursor", "StreamingModule", "open_stream"]


class StreamCursor:
    """Where a streaming pass is: ``row``, and ``col`` for one pixel (``col = None``: the whole
    row).

    Shared by every :class:`StreamingModule` of one network while its stream is open.
    """

    def __init__(self) -> None:
        self.row: int = 0
        self.col: int | None = None

    def at_pixel(self, row: int, col: int) -> StreamCursor:
        self.row, self.col = row, col
        return self

    def at_row(self, row: int) -> StreamCursor:
        self.row, self.col = row, None
        return self

    def select(self, term: torch.Tensor) -> torch.Tensor:
        """A whole-image term ``(N, F, H, W)`` at the cursor: ``(N, F)`` or ``(N, F, W)``."""
        if self.col is None:
            return term[:, :, self.row]
        return term[:, :, self.row, self.col]


class StreamingModule(nn.Module):
    """A layer that can run inside a stream: between :meth:`begin_stream` and :meth:`end_stream`
    its ``forward`` takes the activation at the cursor instead of a whole map.

    Subclasses allocate their caches in ``begin_stream`` (calling ``super()``) and drop them in
    ``end_stream``. No ``__init__`` here, so it mixes into ``nn.Conv2d`` and friends.
    """

    _cursor: StreamCursor | None = None

    @property
    def streaming(self) -> bool:
        return self._cursor is not None

    def begin_stream(
        self, cursor: StreamCursor, batch: int, height: int, width: int, like: torch.Tensor
    ) -> None:
        """Open a stream over images ``(batch, ·, height, width)`` of ``like``'s dtype and
        device."""
        self._cursor = cursor

    def end_stream(self) -> None:
        self._cursor = None


@contextmanager
def open_stream(
    network: nn.Module, batch: int, height: int, width: int, like: torch.Tensor
) -> Iterator[StreamCursor]:
    """Open a stream on every :class:`StreamingModule` inside ``network``; yields the cursor.

    The caches are dropped on exit, even after an error, so the network is left as it was.
    """
    cursor = StreamCursor()
    layers = [m for m in network.modules() if isinstance(m, StreamingModule)]
    try:
        for layer in layers:
            layer.begin_stream(cursor, batch, height, width, like)
        yield cursor
    finally:
        for layer in layers:
            layer.end_stream()
