"""Conditioning of an autoregressive network on a context: per-layer biases from a vector or a map.

Conditional PixelCNN (van den Oord et al. 2016b, eq. 4-5) adds ``V h`` to every layer's
pre-activations for a context vector h (a class, a latent code z), and ``V * s`` (a 1×1
convolution) for a spatial context map s with the image's height and width. Neither reads
the pixels, so conditioning cannot break the autoregressive order.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import PgmError

__all__ = ["ContextProjection", "add_term"]


class ContextProjection(nn.Module):
    """One bias term per layer from a context: ``context -> [(N, widths[l], H', W')]``.

    :param context_shape: ``(D,)`` for a vector (terms ``(N, F_l, 1, 1)``, broadcast over the
        image) or ``(S, H, W)`` for a spatial map (terms ``(N, F_l, H, W)``).
    :param widths: the number of features F_l of each conditioned layer.
    """

    def __init__(self, context_shape: tuple[int, ...], widths: list[int]) -> None:
        super().__init__()
        self.context_shape = tuple(int(s) for s in context_shape)
        self.widths = [int(w) for w in widths]
        if len(self.context_shape) == 1:
            self.projection: nn.Module = nn.Linear(self.context_shape[0], sum(self.widths))
        elif len(self.context_shape) == 3:
            self.projection = nn.Conv2d(self.context_shape[0], sum(self.widths), 1)
        else:
            raise PgmError(
                f"context_shape: expected (D,) for a vector or (S, H, W) for a map; "
                f"found {self.context_shape}"
            )

    def check(self, context: torch.Tensor, batch: int, height: int, width: int) -> None:
        """Raise ``ValueError`` unless ``context`` is ``(batch, D)``, or
        ``(batch, S, height, width)`` for a map (the image's size, which is the first rows only
        while sampling by rows)."""
        expected = (batch,) + self.context_shape
        if len(self.context_shape) == 3:
            expected = (batch, self.context_shape[0], height, width)
        if not torch.is_tensor(context) or tuple(context.shape) != expected:
            found = tuple(context.shape) if torch.is_tensor(context) else type(context).__name__
            raise PgmError(f"context: expected shape {expected}; found {found}")

    def forward(self, context: torch.Tensor) -> list[torch.Tensor]:
        out = self.projection(context)
        if out.dim() == 2:
            out = out[:, :, None, None]
        return list(out.split(self.widths, dim=1))


def add_term(h: torch.Tensor, term: torch.Tensor | None) -> torch.Tensor:
    """``h + term``, or ``h`` for an unconditioned layer (``term is None``)."""
    return h if term is None else h + term
