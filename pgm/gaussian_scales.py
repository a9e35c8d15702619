"""The maps from a Gaussian head's raw output v to a standard deviation, shared by the guides
and the HVAE's conditional Gaussians (``conditional_scale``):

- ``"softplus"``: sigma = softplus(v) + 1e-4, pgm's own (unbounded above, at least 1e-4);
- ``"clamped-log-variance"``: v is a log-variance clamped to [-6, 2] by a hardtanh, so
  sigma = exp(hardtanh(v, -6, 2) / 2), in [0.05, 2.7]: the VampPrior authors' code (Tomczak &
  Welling 2018, github.com/jmtomczak/vae_vampprior), for every Gaussian of its models."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["LOG_VARIANCE_RANGE", "SCALE_MAPS", "clamped_log_variance", "softplus"]

#: the clamp of ``"clamped-log-variance"``
LOG_VARIANCE_RANGE = (-6.0, 2.0)


def softplus(v: torch.Tensor) -> torch.Tensor:
    """sigma = softplus(v) + 1e-4."""
    return F.softplus(v) + 1e-4


def clamped_log_variance(v: torch.Tensor) -> torch.Tensor:
    """sigma = exp(hardtanh(v, -6, 2) / 2)."""
    return torch.exp(0.5 * F.hardtanh(v, *LOG_VARIANCE_RANGE))


#: the choices, by name
SCALE_MAPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "softplus": softplus,
    "clamped-log-variance": clamped_log_variance,
}
