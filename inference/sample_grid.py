"""A grid of a model's samples as one image, for loggers (torchvision's ``make_grid``)."""

from __future__ import annotations

import math

import torch

__all__ = ["sample_grid"]


@torch.no_grad()
def sample_grid(model, n: int, seed: int) -> torch.Tensor | None:
    """``n`` samples of ``model`` drawn with a forked RNG seeded ``seed`` (training's stream is
    untouched), scaled to [0, 1] by the data's levels, as a ``(C, H, W)`` grid; None for data
    that are not images."""
    if len(model.event_shape) != 3:
        return None
    from torchvision.utils import make_grid

    was_training = model.training
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            x = model.sample(n).float().cpu()
    finally:
        model.train(was_training)
    levels = model.num_levels
    if levels and levels > 1:
        x = x / (levels - 1)
    else:  # continuous data: each image's own range
        lo = x.amin(dim=(1, 2, 3), keepdim=True)
        hi = x.amax(dim=(1, 2, 3), keepdim=True)
        x = (x - lo) / (hi - lo).clamp_min(1e-12)
    return make_grid(x.clamp(0, 1), nrow=int(math.ceil(math.sqrt(n))), padding=1, pad_value=0.5)
