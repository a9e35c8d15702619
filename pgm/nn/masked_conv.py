"""Masked convolutions: the masks that make a convolution causal in raster and channel order.

Pixels are ordered in raster order (rows top to bottom, columns left to right) and, within
a pixel, R before G before B. A masked convolution zeroes the kernel weights that would let
the output at pixel i see pixels after i (van den Oord et al. 2016a, section 3.4):

- the rows below the centre and the columns right of the centre in the centre row are 0;
- at the centre position, the features are split into C groups, one per image channel
  (R, G, B), and a feature of group g may read group g' only if ``g' < g`` (mask ``"A"``,
  the first layer: a pixel's R output must not see its own R value) or ``g' <= g``
  (mask ``"B"``, every later layer);
- mask ``"V"`` keeps the centre row and every row above it, whole (the vertical stack of
  the gated PixelCNN, whose output is shifted down one row before it is used);
- ``None``: no mask (a 1×1 layer whose input already depends only on earlier rows).

The mask is a buffer applied as ``self.mask * self.weight`` inside ``forward``, so it can
never be skipped and the masked weights receive zero gradient.

References:
    A. van den Oord, N. Kalchbrenner, K. Kavukcuoglu. "Pixel Recurrent Neural Networks."
    ICML 2016 (section 3.4, masked convolution; figure 4, the channel connectivity).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import PgmError
from .streaming import StreamCursor, StreamingModule

__all__ = ["MASK_TYPES", "MaskedConv2d", "causal_mask", "channel_groups"]

MASK_TYPES = ("A", "B", "V", None)


def channel_groups(num_features: int, image_channels: int, chunks: int = 1) -> torch.Tensor:
    """The image channel (0 = R, 1 = G, 2 = B) each of ``num_features`` features belongs to.

    Features are split into ``chunks`` equal chunks (e.g. the tanh and sigmoid halves of a
    gate, or the four LSTM gates) and each chunk into ``image_channels`` contiguous groups,
    so feature ``f`` of every chunk has the same group and element-wise gates stay causal.
    """
    if num_features % chunks:
        raise PgmError(
            f"num_features: expected a multiple of chunks={chunks}; found {num_features}"
        )
    per_chunk = num_features // chunks
    return (torch.arange(per_chunk) * image_channels // per_chunk).repeat(chunks)


def causal_mask(
    out_channels: int,
    in_channels: int,
    kernel_size: tuple[int, int],
    mask_type: str | None,
    image_channels: int = 1,
    out_chunks: int = 1,
) -> torch.Tensor:
    """The 0/1 mask ``(out_channels, in_channels, kh, kw)`` of a causal convolution (see module
    doc)."""
    if mask_type not in MASK_TYPES:
        raise PgmError(f"mask_type: expected one of 'A', 'B', 'V', None; found {mask_type!r}")
    kh, kw = kernel_size
    mask = torch.ones(out_channels, in_channels, kh, kw)
    if mask_type is None:
        return mask
    ch, cw = kh // 2, kw // 2
    mask[:, :, ch + 1 :] = 0  # rows below the centre
    if mask_type == "V":
        return mask
    mask[:, :, ch, cw + 1 :] = 0  # the centre row, right of the centre
    out_group = channel_groups(out_channels, image_channels, out_chunks)[:, None]
    in_group = channel_groups(in_channels, image_channels)[None, :]
    allowed = in_group < out_group if mask_type == "A" else in_group <= out_group
    mask[:, :, ch, cw] = allowed.float()
    return mask


class MaskedConv2d(nn.Conv2d, StreamingModule):
    """A 2-D convolution with a causal mask; odd kernel sizes, 'same' zero padding.

    ``x: (N, in_channels, H, W) -> (N, out_channels, H, W)``. In a stream (see
    :mod:`pgm.nn.streaming`) it takes the input at the cursor, ``(N, in_channels)`` for a
    pixel or ``(N, in_channels, W)`` for a row, keeps it in a zero-padded cache, and returns
    the output there, ``(N, out_channels)`` or ``(N, out_channels, W)``; given a whole map
    (the image being generated) it reads the window at the cursor from it instead.

    :param mask_type: ``"A"``, ``"B"``, ``"V"`` or ``None`` (module docstring).
    :param image_channels: C, the number of channel groups (1 for grey images).
    :param out_chunks: output chunks grouped alike (2 for a gate, 4 for LSTM gates).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        mask_type: str | None = "B",
        image_channels: int = 1,
        out_chunks: int = 1,
        bias: bool = True,
    ) -> None:
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if kh % 2 == 0 or kw % 2 == 0:
            raise PgmError(f"kernel_size: expected odd sizes (a centre pixel); found {(kh, kw)}")
        if in_channels < image_channels or out_channels < image_channels * out_chunks:
            raise PgmError(
                f"channels: expected at least image_channels={image_channels} features per "
                f"chunk on each side; found in_channels={in_channels}, out_channels={out_channels}"
            )
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2), bias=bias)
        self.mask_type = mask_type
        self.image_channels = image_channels
        self.register_buffer(
            "mask",
            causal_mask(out_channels, in_channels, (kh, kw), mask_type, image_channels, out_chunks),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._cursor is not None:
            return self._forward_at_cursor(x)
        return F.conv2d(x, self.mask * self.weight, self.bias, padding=self.padding)

    # --- streaming -------------------------------------------------------------------------

    def begin_stream(
        self, cursor: StreamCursor, batch: int, height: int, width: int, like: torch.Tensor
    ) -> None:
        super().begin_stream(cursor, batch, height, width, like)
        kh, kw = self.kernel_size
        self._masked_weight = self.mask * self.weight
        self._flat_weight = self._masked_weight.reshape(self.out_channels, -1)
        # A layer with neighbours keeps its whole (zero-padded) input, so padding at the image
        # border is exactly the full pass's; made on first use, since a 1×1 layer and a layer
        # fed the image itself (see _forward_at_cursor) never need it.
        self._cache = None
        self._like = like
        self._cache_shape = (batch, self.in_channels, height + kh - 1, width + kw - 1)

    def end_stream(self) -> None:
        super().end_stream()
        self._masked_weight = self._flat_weight = self._cache = self._like = None

    def _forward_at_cursor(self, x: torch.Tensor) -> torch.Tensor:
        """The output at the cursor. ``x`` is the input there, ``(N, F)`` or ``(N, F, W)``, kept
        in the cache; or the whole, up-to-date input map ``(N, F, H, W)`` (the image itself,
        whose pixel at the cursor is still being generated), read directly."""
        row, col = self._cursor.row, self._cursor.col
        if x.dim() == 4:
            return self._from_map(x, row, col)
        kh, kw = self.kernel_size
        if (kh, kw) == (1, 1):
            if col is None:  # (N, F, W): a row of 1×1 convolutions
                return F.linear(x.transpose(1, 2), self._flat_weight, self.bias).transpose(1, 2)
            return F.linear(x, self._flat_weight, self.bias)
        if self._cache is None:
            self._cache = self._like.new_zeros(self._cache_shape)
        ph, pw = kh // 2, kw // 2
        if col is None:
            self._cache[:, :, row + ph, pw : pw + x.shape[-1]] = x
            return F.conv2d(self._cache[:, :, row : row + kh], self._masked_weight, self.bias)[
                :, :, 0
            ]
        self._cache[:, :, row + ph, col + pw] = x
        window = self._cache[:, :, row : row + kh, col : col + kw]
        return F.linear(window.reshape(x.shape[0], -1), self._flat_weight, self.bias)

    def _from_map(self, x: torch.Tensor, row: int, col: int | None) -> torch.Tensor:
        kh, kw = self.kernel_size
        ph, pw = kh // 2, kw // 2
        height, width = x.shape[-2:]
        top, bottom = row - ph, row + ph + 1
        left, right = (-pw, width + pw) if col is None else (col - pw, col + pw + 1)
        window = x[:, :, max(top, 0) : min(bottom, height), max(left, 0) : min(right, width)]
        # zeros beyond the border, as the full pass's padding
        window = F.pad(
            window, (max(-left, 0), max(right - width, 0), max(-top, 0), max(bottom - height, 0))
        )
        if col is None:
            return F.conv2d(window, self._masked_weight, self.bias)[:, :, 0]
        return F.linear(window.reshape(x.shape[0], -1), self._flat_weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, mask_type={self.mask_type!r}, "
            f"image_channels={self.image_channels}"
        )
