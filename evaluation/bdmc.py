"""Bidirectional Monte Carlo (BDMC): a stochastic lower and upper bound on log p(x) for data
simulated from the model, whose gap certifies that an AIS schedule is long enough.

For (x, z) drawn ancestrally from the model, z is an exact sample of the posterior p(z | x).
Forward AIS (q_0 -> p(z|x)) gives a stochastic lower bound on log p(x); reverse AIS, started at
that exact z and annealed back to q_0, estimates 1/p(x) without bias, so −log of its mean is a
stochastic upper bound (Grosse, Ghahramani & Adams 2015, "Sandwiching the marginal likelihood
using bidirectional Monte Carlo"; Wu et al. 2017 use it to check AIS on decoder-based models).
When the gap is small on simulated data, the same schedule is trusted on real data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from pyro import poutine

from pgm.contract import OBSERVED_SITE, latent_sites, sample_sites
from pgm.errors import ContractError, PgmError
from pgm.memory import check_fits

from .ais import DEFAULT_CHAINS, DEFAULT_STEPS, AISResult, ais, check_settings
from .pair import check_count, resolve_pair

__all__ = ["BDMCResult", "bdmc", "no_latents_message", "simulate"]


def no_latents_message(what: str) -> str:
    """The one-line refusal of BDMC on a model without latent variables."""
    return (
        f"model: expected a latent-variable model (BDMC bounds AIS over latents); found {what} "
        "has no latent variables, so log p(x) is exact (K = 1 importance sampling, `pgm "
        "evaluate`) and there is no gap to certify"
    )


@dataclass
class BDMCResult:
    """Per simulated datapoint: ``x (N, ...)``, the ``lower (N,)`` and ``upper (N,)`` bounds in
    nats (float64), ``gap = upper − lower``; the forward and reverse :class:`AISResult` behind
    them."""

    x: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    forward: AISResult
    reverse: AISResult

    @property
    def gap(self) -> torch.Tensor:
        return self.upper - self.lower


@torch.no_grad()
def simulate(
    model, num_images: int, data_shape: tuple[int, ...]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Draw ``num_images`` pairs (x, z) ancestrally from ``model``: ``x (num_images, *data_shape)``
    and every latent site's value ``{name: (..., num_images, ...)}`` (the trace's layout)."""
    template = torch.zeros(num_images, *data_shape)
    trace = poutine.trace(poutine.uncondition(model)).get_trace(template)
    sites = dict(sample_sites(trace))
    if OBSERVED_SITE not in sites:
        raise ContractError(
            f"model: expected the data observed at {OBSERVED_SITE!r}; found no such site"
        )
    x = sites[OBSERVED_SITE]["value"].detach()
    if tuple(x.shape) != tuple(template.shape):
        raise ContractError(
            f"model: expected simulated x of shape {tuple(template.shape)}; found {tuple(x.shape)}"
        )
    latents = {
        name: sites[name]["value"].detach() for name in latent_sites(trace) if name != OBSERVED_SITE
    }
    return x, latents


def bdmc(
    model,
    guide=None,
    num_images: int = 100,
    num_steps: int = DEFAULT_STEPS,
    num_chains: int = DEFAULT_CHAINS,
    *,
    data_shape: tuple[int, ...] | None = None,
    **kwargs,
) -> BDMCResult:
    """Simulate ``num_images`` (x, z) from the model and sandwich log p(x) between forward AIS
    (lower) and reverse AIS from z (upper), each with ``num_steps`` and ``num_chains``.

    :param model: a Pyro model keeping the contract, or a built model (whose ``event_shape`` gives
        ``data_shape``).
    :param data_shape: the shape of one datapoint, e.g. ``(1, 28, 28)`` (plain Pyro models).
    :param kwargs: passed to :func:`evaluation.ais.ais` (``start``, ``schedule``,
        ``num_leapfrog``, ...).
    """
    check_count("num_images", num_images)
    check_settings(
        num_steps,
        num_chains,
        kwargs.get("num_leapfrog", 1),
        kwargs.get("start", "guide"),
        kwargs.get("schedule", "sigmoid"),
    )
    model_fn, guide_fn, owner = resolve_pair(model, guide)
    if owner is not None and not owner.has_latents:
        raise PgmError(no_latents_message(type(owner).__name__))
    if data_shape is None:
        data_shape = getattr(owner, "event_shape", None)
        if data_shape is None:
            raise PgmError(
                "data_shape: expected the shape of one datapoint for a plain Pyro model; found None"
            )
    # the simulated images, the latents and the trace's copies of them, before allocating
    # (10^9 images died in the allocator with a traceback)
    dims = math.prod(data_shape)
    check_fits(
        32 * num_images * dims, "num_images", f"{num_images:,} simulated images of {dims} values"
    )
    was_training = getattr(owner, "training", None)
    if owner is not None:
        owner.eval()
    try:
        x, z = simulate(model_fn, num_images, tuple(data_shape))
    finally:
        if owner is not None and was_training:
            owner.train()
    if not z:
        raise PgmError(no_latents_message("the model"))
    pair = (model, guide) if owner is None else (owner, None)
    forward = ais(*pair, x, num_steps, num_chains, **kwargs)
    reverse = ais(*pair, x, num_steps, num_chains, initial=z, reverse=True, **kwargs)
    return BDMCResult(x, forward.log_likelihood, reverse.log_likelihood, forward, reverse)
