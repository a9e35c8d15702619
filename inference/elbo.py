"""The training objectives, Pyro's own: ``Trace_ELBO``, ``TraceMeanField_ELBO`` and a
differentiable importance-weighted bound on ``RenyiELBO``.

``make_elbo("trace")`` and ``make_elbo("mean-field")`` return Pyro's ``Trace_ELBO`` and
``TraceMeanField_ELBO`` themselves, with every check Pyro makes on every step (model/guide site
match, site shapes, support of the data when validation is on) and its surrogate for
non-reparameterised sites. A lean re-implementation used to skip Pyro's per-step bookkeeping;
it bought 8-17% of an SVI step (``benchmarks/svi_step.py`` prints the trainer with Pyro's
objective against a hand-written step) and differed from Pyro on guide-only sites, late
out-of-support data and score-function guides, so it was removed.
"""

from __future__ import annotations

import math

import torch
from pyro import infer
from pyro.infer.util import get_dependent_plate_dims, torch_sum

from pgm.errors import ContractError, PgmError

__all__ = ["ELBOS", "ImportanceWeightedELBO", "make_elbo"]


class ImportanceWeightedELBO(infer.RenyiELBO):
    """Pyro's ``RenyiELBO`` with ``differentiable_loss``, so a plain torch optimiser can train
    on it. At ``alpha = 0`` it is the importance-weighted bound of Burda et al. (2016):

    .. math:: \\mathcal{L}_K = \\mathbb{E}\\Big[\\log \\frac1K
              \\sum_k \\frac{p(x, z_k)}{q(z_k|x)}\\Big]

    Pyro's ``RenyiELBO`` only offers ``loss_and_grads``, which back-propagates into
    param-store parameters; our models keep their weights in ``nn.Module``s. For a
    reparameterised guide the gradient of this loss is exactly the surrogate Pyro uses (the
    self-normalised weights times the per-particle gradients). Per-datapoint weights are kept
    separate: the log-sum-exp runs over particles only, as in Pyro.
    """

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        log_w = []
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            sum_dims = get_dependent_plate_dims(model_trace.nodes.values())
            w = 0.0
            for trace, sign in ((model_trace, 1.0), (guide_trace, -1.0)):
                for site in trace.nodes.values():
                    if site["type"] == "sample":
                        if sign < 0 and not site["fn"].has_rsample:
                            raise ContractError(
                                "elbo 'iwae': expected a fully reparameterised guide; site "
                                f"{site['name']!r} is not"
                            )
                        w = w + sign * torch_sum(site["log_prob"], sum_dims)
            log_w.append(w)
        log_w = (
            log_w[0] if self.vectorize_particles and self.num_particles > 1 else torch.stack(log_w)
        )
        scaled = (1.0 - self.alpha) * log_w
        bound = (torch.logsumexp(scaled, 0) - math.log(self.num_particles)) / (1.0 - self.alpha)
        return -bound.sum()


#: Accepted names for the ``elbo`` config key.
ELBOS = {
    "trace": "Trace_ELBO: sampled KL",
    "mean-field": "TraceMeanField_ELBO: closed-form KL where registered, sampled otherwise",
    "iwae": "importance-weighted bound, RenyiELBO(alpha=0) with vectorised particles",
}
_ALIASES = {"Trace_ELBO": "trace", "TraceMeanField_ELBO": "mean-field", "RenyiELBO": "iwae"}


def make_elbo(
    name: str, num_particles: int = 1, max_plate_nesting: int | None = None
) -> infer.ELBO:
    """The ELBO called ``name`` (``trace``, ``mean-field``, ``iwae``, or Pyro's class names)."""
    name = _ALIASES.get(name, name)
    if name not in ELBOS:
        valid = ", ".join(sorted(set(ELBOS) | set(_ALIASES)))
        raise PgmError(f"elbo: expected one of {valid}; found {name!r}")
    vectorize = num_particles > 1
    kwargs = {"num_particles": num_particles, "vectorize_particles": vectorize}
    if max_plate_nesting is not None:
        kwargs["max_plate_nesting"] = max_plate_nesting
    if name == "trace":
        return infer.Trace_ELBO(**kwargs)
    if name == "mean-field":
        return infer.TraceMeanField_ELBO(**kwargs)
    return ImportanceWeightedELBO(alpha=0.0, **kwargs)
