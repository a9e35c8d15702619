"""The per-pixel output families of the autoregressive image distributions.

Each image channel of each pixel gets P numbers from the network, read as one of:

- ``"bernoulli"`` (K = 2, P = 1): the logit of x = 1;
- ``"categorical"`` (any K, P = K): a K-way softmax (van den Oord et al. 2016a, section 5.3);
- ``"logistic"`` (any K, P = 3M): a mixture of M discretized logistics
  (:class:`~pgm.distributions.discretized_logistic.DiscretizedLogisticMixture`,
  Salimans et al. 2017), locations and scales predicted on the [-1, 1] scale of the
  network's input.

``"auto"`` picks bernoulli for K = 2 and categorical otherwise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import PgmError
from .discretized_logistic import DiscretizedLogisticMixture

__all__ = [
    "OUTPUTS",
    "draw_levels",
    "output_level_log_probs",
    "output_log_prob",
    "params_per_channel",
    "resolve_output",
]

OUTPUTS = ("auto", "bernoulli", "categorical", "logistic")


def resolve_output(output: str, num_levels: int) -> str:
    """``"auto"`` -> the family for K levels; otherwise check that ``output`` suits K."""
    if output not in OUTPUTS:
        raise PgmError(f"output: expected one of {', '.join(OUTPUTS)}; found {output!r}")
    if output == "auto":
        return "bernoulli" if num_levels == 2 else "categorical"
    if output == "bernoulli" and num_levels != 2:
        raise PgmError(
            f"output: 'bernoulli' expects num_levels = 2; found num_levels = {num_levels}"
        )
    return output


def params_per_channel(output: str, num_levels: int, num_mixtures: int = 5) -> int:
    """P, the network outputs per image channel, for a resolved ``output``."""
    output = resolve_output(output, num_levels)
    return {"bernoulli": 1, "categorical": num_levels, "logistic": 3 * num_mixtures}[output]


def _logistic(params: torch.Tensor, num_levels: int) -> DiscretizedLogisticMixture:
    logits, locs, log_scales = params.chunk(3, dim=-1)
    # from the network's [-1, 1] scale to level units: x_level = (x + 1) (K - 1) / 2
    half_range = (num_levels - 1) / 2
    return DiscretizedLogisticMixture(
        logits,
        (locs + 1) * half_range,
        log_scales + math.log(half_range),
        num_levels,
        validate_args=False,
    )


def output_log_prob(
    output: str, params: torch.Tensor, x: torch.Tensor, num_levels: int
) -> torch.Tensor:
    """log p(x) elementwise: ``params (..., P)``, ``x (...)`` integer-valued -> ``(...)``."""
    if output == "bernoulli":
        return -F.binary_cross_entropy_with_logits(params[..., 0], x, reduction="none")
    if output == "categorical":
        return F.log_softmax(params, dim=-1).gather(-1, x.long().unsqueeze(-1)).squeeze(-1)
    return _logistic(params, num_levels).log_prob(x)


def output_level_log_probs(output: str, params: torch.Tensor, num_levels: int) -> torch.Tensor:
    """The normalised table log P(x = k), ``params (..., P) -> (..., K)``."""
    if output == "bernoulli":
        logit = params[..., :1]
        return torch.cat([F.logsigmoid(-logit), F.logsigmoid(logit)], dim=-1)
    if output == "categorical":
        return F.log_softmax(params, dim=-1)
    return _logistic(params, num_levels).level_log_probs()


def draw_levels(level_log_probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draws: the level k whose CDF interval holds ``u``.

    ``level_log_probs (..., K)``, ``uniforms (...)`` in [0, 1) -> levels ``(...)`` (float, of
    the uniforms' dtype). One uniform per draw, whatever K: two samplers that hand the same
    uniforms to the same tables give the same draws.
    """
    cdf = level_log_probs.double().exp().cumsum(-1)
    # the last CDF entry is 1 up to round-off: never step past level K - 1
    level = (cdf[..., :-1] <= uniforms.double().unsqueeze(-1)).sum(-1)
    return level.to(uniforms.dtype)
