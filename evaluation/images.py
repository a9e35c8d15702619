"""Writing image grids with torchvision's ``make_grid``/``save_image``."""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from inference.atomic_write import atomic_write_bytes

__all__ = [
    "MIN_IMAGE_PIXELS",
    "check_image_memory",
    "grid_png",
    "grid_scale",
    "image_grid",
    "save_grid",
    "to_unit",
]

#: grids are upscaled (nearest neighbour) until each image is at least this many pixels tall
MIN_IMAGE_PIXELS = 56


def to_unit(x: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Levels {0..K-1} -> [0, 1] floats for display."""
    return (x.float() / max(num_levels - 1, 1)).clamp(0, 1)


def image_grid(x: torch.Tensor, num_levels: int, nrow: int | None = None) -> torch.Tensor:
    """``(N, C, H, W)`` levels -> one ``(3, H', W')`` grid image in [0, 1]."""
    nrow = nrow or max(1, int(math.ceil(math.sqrt(x.shape[0]))))
    return make_grid(to_unit(x.cpu(), num_levels), nrow=nrow, padding=1, pad_value=0.5)


def grid_scale(image_height: int) -> int:
    """The smallest integer upscaling that draws an image at least :data:`MIN_IMAGE_PIXELS`
    tall: 7 for 8×8 digits, 2 for 28×28 MNIST, 1 from 56 pixels on."""
    return max(1, math.ceil(MIN_IMAGE_PIXELS / max(int(image_height), 1)))


def grid_png(
    x: torch.Tensor, num_levels: int, nrow: int | None = None, scale: int | None = None
) -> bytes:
    """Images as the bytes of one PNG grid, each pixel drawn ``scale``× larger by nearest-neighbour
    upscaling (default :func:`grid_scale`: 8×8 digits are tiny); what :func:`save_grid` writes and
    what the HTML report embeds."""
    if scale is None:
        scale = grid_scale(x.shape[-2] if x.dim() >= 3 else 1)
    grid = image_grid(x, num_levels, nrow)
    if scale > 1:
        grid = grid.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    buffer = io.BytesIO()
    save_image(grid, buffer, format="png")
    return buffer.getvalue()


def save_grid(
    x: torch.Tensor,
    num_levels: int,
    path: str | Path,
    nrow: int | None = None,
    scale: int | None = None,
) -> Path:
    """Save images as one PNG grid (see :func:`grid_png`), atomically."""
    return atomic_write_bytes(path, grid_png(x, num_levels, nrow, scale))


def check_image_memory(
    drawn: int, shown: int, event_shape: tuple[int, ...], argument: str, scale: int | None = None
) -> None:
    """Refuse, before anything is drawn, a request that cannot fit in memory (one line naming
    ``argument``): ``drawn`` images of ``event_shape`` sampled (about 128 bytes per pixel for
    the samples and the network's activations) and ``shown`` of them drawn into one grid (three
    float32 RGB copies of the grid at ``scale``×: measured 1,666 bytes per 8×8 digit pixel at
    the default 7×, against 1,764 estimated)."""
    from pgm.memory import check_fits

    dims = math.prod(event_shape)
    samples = 128 * drawn * dims
    check_fits(samples, argument, f"{drawn:,} images of {dims} pixels")
    given, scale = scale, scale or grid_scale(event_shape[-2] if len(event_shape) >= 2 else 1)
    grid = shown * (dims // event_shape[0] if len(event_shape) == 3 else dims) * 3 * scale**2 * 12
    if given is None:
        check_fits(samples + grid, argument, f"{drawn:,} images of {dims} pixels")
    else:  # a --scale the user chose: name it (64 images at --scale 100000 were blamed on -n)
        check_fits(
            samples + grid,
            f"{argument}/--scale",
            f"{shown:,} images of {dims} pixels in a grid at --scale {scale:,}",
        )
