"""The completion figure of ``pgm complete``: one row per image, columns labelled observed /
completions / original, the unobserved region of the observed column drawn in a hatched colour
so that it cannot be mistaken for black pixels."""

from __future__ import annotations

import io

import torch

from .figures import plain
from .images import grid_scale, to_unit

__all__ = ["completion_png"]

#: the hatching of unobserved pixels: orange and blue diagonal stripes (colour-blind safe)
_HATCH = (torch.tensor([0.90, 0.62, 0.0]), torch.tensor([0.0, 0.45, 0.70]))


def _rgb(x: torch.Tensor, num_levels: int) -> torch.Tensor:
    """``(..., C, H, W)`` levels -> ``(..., 3, H, W)`` in [0, 1]."""
    x = to_unit(x.cpu(), num_levels)
    return x.expand(*x.shape[:-3], 3, *x.shape[-2:]) if x.shape[-3] == 1 else x


def completion_png(
    x: torch.Tensor,
    mask: torch.Tensor,
    completed: torch.Tensor,
    num_levels: int,
    title: str,
) -> bytes:
    """``x (N, C, H, W)``, ``mask (C, H, W)`` (True: observed), ``completed (N, S, C, H, W)``
    -> the PNG bytes of the labelled grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, s = completed.shape[:2]
    h, w = x.shape[-2:]
    scale = grid_scale(h)
    observed = _rgb(x, num_levels)
    seen = mask.cpu().any(0)
    rows, cols = torch.meshgrid(torch.arange(h * scale), torch.arange(w * scale), indexing="ij")
    stripe = (((rows + cols) // max(scale // 2, 1)) % 2).bool()
    big = observed.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    hidden = ~seen.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    hatch = torch.where(stripe, _HATCH[0][:, None, None], _HATCH[1][:, None, None])
    big = torch.where(hidden, hatch, big)
    rest = torch.cat([_rgb(completed, num_levels), _rgb(x, num_levels).unsqueeze(1)], 1)
    rest = rest.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    tiles = torch.cat([big.unsqueeze(1), rest], 1)  # (N, S + 2, 3, h', w')
    pad = 2
    tiles = torch.nn.functional.pad(tiles, (pad, pad, pad, pad), value=1.0)
    grid = tiles.permute(0, 3, 1, 4, 2).reshape(n * tiles.shape[-2], (s + 2) * tiles.shape[-1], 3)
    fig, ax = plt.subplots(figsize=(max(3.0, 0.55 * (s + 2)), max(2.0, 0.55 * n + 0.8)))
    ax.imshow(grid.numpy(), interpolation="nearest")
    width = tiles.shape[-1]
    labels = ["observed", *[f"completion {i + 1}" for i in range(s)], "original"]
    ax.set_xticks([width * (i + 0.5) for i in range(s + 2)], labels, rotation=45, ha="right")
    ax.set_yticks([])
    ax.tick_params(length=0, labelsize="small")
    ax.set_title(plain(title), fontsize="small")
    for spine in ax.spines.values():
        spine.set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
