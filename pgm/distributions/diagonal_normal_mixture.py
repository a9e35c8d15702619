"""A mixture of M diagonal Gaussians whose density over many points is two matrix products."""

from __future__ import annotations

import math

import pyro.distributions as dist
import torch
from torch.distributions import constraints

__all__ = ["DiagonalNormalMixture"]


class DiagonalNormalMixture(dist.TorchDistribution):
    """p(z) = sum_m pi_m N(z; mu_m, diag sigma_m^2), event shape ``(D,)``, batch shape ``()``.

    .. math::

        \\log N(z; \\mu_m, \\sigma_m) = -\\tfrac12 \\Big[ \\sum_d z_d^2 \\sigma_{md}^{-2}
        - 2 \\sum_d z_d \\mu_{md} \\sigma_{md}^{-2} + \\sum_d \\mu_{md}^2 \\sigma_{md}^{-2} \\Big]
        - \\sum_d \\log \\sigma_{md} - \\tfrac{D}{2} \\log 2\\pi

    The first two sums are matrix products ``(..., D) @ (D, M)``, so ``log_prob`` of P points
    never builds the ``(P, M, D)`` tensor that ``MixtureSameFamily`` does: with the VampPrior's
    M = 500 components and K = 5000 importance samples per image that tensor is the
    estimator's whole cost. The products are taken in float64, so the expansion loses no
    accuracy to cancellation where z is close to a component's mean.

    :param loc: ``(M, D)`` component means.
    :param scale: ``(M, D)`` component standard deviations.
    :param logits: ``(M,)`` unnormalised log mixing weights (default: uniform).

    References:
        J. M. Tomczak, M. Welling. "VAE with a VampPrior." AISTATS 2018 (eq. 9).
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "logits": constraints.real,
    }
    support = constraints.real_vector
    has_rsample = False

    def __init__(
        self,
        loc: torch.Tensor,
        scale: torch.Tensor,
        logits: torch.Tensor | None = None,
        validate_args=None,
    ):
        if loc.dim() != 2 or loc.shape != scale.shape:
            raise ValueError(
                "loc, scale: expected two tensors of the same shape (M, D); "
                f"found {tuple(loc.shape)} and {tuple(scale.shape)}"
            )
        self.loc, self.scale = loc, scale
        self.logits = loc.new_zeros(loc.shape[0]) if logits is None else logits
        if self.logits.shape != loc.shape[:1]:
            raise ValueError(
                f"logits: expected shape ({loc.shape[0]},); found {tuple(self.logits.shape)}"
            )
        super().__init__(torch.Size(), loc.shape[1:], validate_args=validate_args)

    def component_log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``value: (..., D) -> (..., M)``: log N(value; mu_m, sigma_m) for every component."""
        precision = self.scale.double().pow(-2)  # (M, D)
        weighted = self.loc.double() * precision
        z = value.double()
        quad = (
            z.pow(2) @ precision.T - 2.0 * (z @ weighted.T) + (self.loc.double() * weighted).sum(-1)
        )
        norm = self.scale.double().log().sum(-1) + 0.5 * self.loc.shape[1] * math.log(2 * math.pi)
        return (-0.5 * quad - norm).to(value.dtype)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        log_weights = torch.log_softmax(self.logits, -1)
        return torch.logsumexp(self.component_log_prob(value) + log_weights, -1)

    def sample(self, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        with torch.no_grad():
            index = dist.Categorical(logits=self.logits).sample(torch.Size(sample_shape))
            eps = torch.randn(
                index.shape + self.event_shape, dtype=self.loc.dtype, device=self.loc.device
            )
            return self.loc[index] + self.scale[index] * eps

    @property
    def mean(self) -> torch.Tensor:
        return (torch.softmax(self.logits, -1).unsqueeze(-1) * self.loc).sum(0)

    @property
    def variance(self) -> torch.Tensor:
        w = torch.softmax(self.logits, -1).unsqueeze(-1)
        second = (w * (self.scale.pow(2) + self.loc.pow(2))).sum(0)
        return second - self.mean.pow(2)
