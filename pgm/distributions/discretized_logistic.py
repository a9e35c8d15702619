"""A mixture of discretized logistics over the levels ``{0, ..., K-1}`` (PixelCNN++)."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pyro.distributions import TorchDistribution
from torch.distributions import constraints
from torch.distributions.utils import broadcast_all

from ..errors import PgmError

__all__ = ["MIN_LOG_SCALE", "DiscretizedLogisticMixture", "discretized_logistic_log_prob"]

#: Log-scales are clamped from below here, as PixelCNN++ does (Salimans et al. 2017): a scale
#: of e^-7 level units already puts all but ~1e-300 of a component's mass in one level, and
#: below about -84 the inverse scale overflows float32 and the log-probability turns NaN.
MIN_LOG_SCALE = -7.0


def _log_one_minus_exp(d: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(-d)) for d > 0, accurate both for tiny d (where 1 - e^-d ~ d) and large d."""
    return torch.log(-torch.expm1(-d))


def discretized_logistic_log_prob(
    value: torch.Tensor, loc: torch.Tensor, log_scale: torch.Tensor, num_levels: int
) -> torch.Tensor:
    """log P(value) of ONE discretized logistic on ``{0, ..., K-1}`` (broadcasting all arguments).

    The logistic's mass on the bin ``[k - 1/2, k + 1/2]``; the end bins take the tails
    (``(-inf, 1/2]`` for 0, ``[K - 3/2, inf)`` for K-1), so the K masses sum to one exactly.
    Interior bins use

    .. math:: \\log(\\sigma(a) - \\sigma(b)) = a + \\log(1 - e^{-(a-b)}) - \\mathrm{softplus}(a)
              - \\mathrm{softplus}(b),

    with ``a = (k + 1/2 - loc) / s`` and ``b = (k - 1/2 - loc) / s``, which stays finite in
    float32 for any scale (Salimans et al. 2017 switch to the density at the bin centre
    instead; this identity needs no such switch). ``log_scale`` is clamped below at
    :data:`MIN_LOG_SCALE` (-7), as in PixelCNN++, so value and gradient stay finite for any
    input (the gradient is zero below the clamp).
    """
    inv_scale = torch.exp(-torch.clamp(log_scale, min=MIN_LOG_SCALE))
    upper = (value + 0.5 - loc) * inv_scale  # a
    lower = (value - 0.5 - loc) * inv_scale  # b
    interior = upper + _log_one_minus_exp(inv_scale) - F.softplus(upper) - F.softplus(lower)
    first = -F.softplus(-upper)  # log sigmoid(a): the left tail up to 1/2
    last = -F.softplus(lower)  # log(1 - sigmoid(b)): the right tail from K - 3/2
    return torch.where(value <= 0, first, torch.where(value >= num_levels - 1, last, interior))


class DiscretizedLogisticMixture(TorchDistribution):
    """A mixture of M logistic distributions discretized onto the levels ``{0, ..., K-1}``,
    one independent mixture per batch element (e.g. per pixel and channel):

    .. math:: P(x = k) = \\sum_{m=1}^{M} \\pi_m \\left[\\sigma\\left(\\frac{k + 1/2 - \\mu_m}{s_m}
              \\right) - \\sigma\\left(\\frac{k - 1/2 - \\mu_m}{s_m}\\right)\\right],

    with the end levels 0 and K-1 taking the logistic's tails, so the K probabilities sum
    to one exactly. Locations and scales are in level units (``loc = 3.2`` sits between
    levels 3 and 4). Values are floats with integer values, like the images.

    :param logit_weights: ``(..., M)`` unnormalised log mixture weights (log pi up to a constant).
    :param locs: ``(..., M)`` component locations mu_m, in level units.
    :param log_scales: ``(..., M)`` log scales log s_m, in level units.
    :param num_levels: K >= 2.

    The batch shape is the broadcast of the three arguments without their last dim; the
    event shape is ``()``.

    References:
        T. Salimans, A. Karpathy, X. Chen, D. P. Kingma. "PixelCNN++: Improving the PixelCNN
        with Discretized Logistic Mixture Likelihood and Other Modifications." ICLR 2017.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "logit_weights": constraints.real,
        "locs": constraints.real,
        "log_scales": constraints.real,
    }
    has_enumerate_support = True

    def __init__(
        self,
        logit_weights: torch.Tensor,
        locs: torch.Tensor,
        log_scales: torch.Tensor,
        num_levels: int,
        validate_args: bool | None = None,
    ) -> None:
        if int(num_levels) < 2:
            raise PgmError(f"num_levels: expected an integer >= 2; found {num_levels!r}")
        for name, t in (
            ("logit_weights", logit_weights),
            ("locs", locs),
            ("log_scales", log_scales),
        ):
            if not torch.is_tensor(t) or t.dim() < 1:
                shape = tuple(t.shape) if torch.is_tensor(t) else type(t).__name__
                raise PgmError(f"{name}: expected a tensor of shape (..., M); found {shape}")
        self.logit_weights, self.locs, self.log_scales = broadcast_all(
            logit_weights, locs, log_scales
        )
        self.num_levels = int(num_levels)
        super().__init__(self.locs.shape[:-1], torch.Size(), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self.num_levels - 1)

    @property
    def num_mixtures(self) -> int:
        return self.locs.shape[-1]

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(DiscretizedLogisticMixture, _instance)
        batch_shape = torch.Size(batch_shape)
        shape = batch_shape + (self.num_mixtures,)
        new.logit_weights = self.logit_weights.expand(shape)
        new.locs = self.locs.expand(shape)
        new.log_scales = self.log_scales.expand(shape)
        new.num_levels = self.num_levels
        super(DiscretizedLogisticMixture, new).__init__(
            batch_shape, torch.Size(), validate_args=False
        )
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """log P(value), shape ``broadcast(value.shape, batch_shape)``."""
        if self._validate_args:
            self._validate_sample(value)
        per_component = discretized_logistic_log_prob(
            value.unsqueeze(-1), self.locs, self.log_scales, self.num_levels
        )
        return torch.logsumexp(per_component + F.log_softmax(self.logit_weights, dim=-1), dim=-1)

    def level_log_probs(self) -> torch.Tensor:
        """log P(x = k) for every level k: ``(*batch_shape, K)`` (normalised over the last dim)."""
        levels = torch.arange(self.num_levels, dtype=self.locs.dtype, device=self.locs.device)
        levels = levels.reshape((-1,) + (1,) * len(self.batch_shape))
        return self.log_prob(levels).movedim(0, -1)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        levels = torch.arange(self.num_levels, dtype=self.locs.dtype, device=self.locs.device)
        levels = levels.reshape((-1,) + (1,) * len(self.batch_shape))
        return levels.expand((-1,) + self.batch_shape) if expand else levels

    @property
    def mean(self) -> torch.Tensor:
        """E[x] = sum_k k P(x = k), exact, ``batch_shape``."""
        levels = torch.arange(self.num_levels, dtype=self.locs.dtype, device=self.locs.device)
        return (self.level_log_probs().exp() * levels).sum(-1)

    @property
    def variance(self) -> torch.Tensor:
        levels = torch.arange(self.num_levels, dtype=self.locs.dtype, device=self.locs.device)
        probs = self.level_log_probs().exp()
        return (probs * levels**2).sum(-1) - (probs * levels).sum(-1) ** 2

    def sample(self, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        """Exact draws from the K-level table (a categorical draw per batch element)."""
        with torch.no_grad():
            logits = self.level_log_probs()
            shape = torch.Size(sample_shape) + self.batch_shape
            draws = torch.distributions.Categorical(logits=logits).sample(torch.Size(sample_shape))
            return draws.to(self.locs.dtype).reshape(shape)
