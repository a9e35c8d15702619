"""Writing image grids with torchvision's ``make_grid``/``save_image``."""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

__all__ = ["grid_png", "image_grid", "save_grid", "to_unit"]


def to_unit(x: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Levels {0..K-1} -> [0, 1] floats for display."""
    return (x.float() / max(num_levels - 1, 1)).clamp(0, 1)


def image_grid(x: torch.Tensor, num_levels: int, nrow: int | None = None) -> torch.Tensor:
    """``(N, C, H, W)`` levels -> one ``(3, H', W')`` grid image in [0, 1]."""
    nrow = nrow or max(1, int(math.ceil(math.sqrt(x.shape[0]))))
    return make_grid(to_unit(x.cpu(), num_levels), nrow=nrow, padding=1, pad_value=0.5)


def grid_png(x: torch.Tensor, num_levels: int, nrow: int | None = None, scale: int = 4) -> bytes:
    """Images as the bytes of one PNG grid, each pixel drawn ``scale``× larger (8×8 digits are
    tiny); what :func:`save_grid` writes and what the HTML report embeds."""
    grid = image_grid(x, num_levels, nrow)
    if scale > 1:
        grid = grid.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    buffer = io.BytesIO()
    save_image(grid, buffer, format="png")
    return buffer.getvalue()


def save_grid(x: torch.Tensor, num_levels: int, path: str | Path, nrow: int | None = None, scale: int = 4) -> Path:
    """Save images as one PNG grid (see :func:`grid_png`), atomically."""
    data = grid_png(x, num_levels, nrow, scale)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
