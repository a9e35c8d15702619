"""The shared importance-sampled log-likelihood estimator, per datapoint, for any model/guide pair.

.. math::

    \\log p(x) \\approx \\log \\frac{1}{K} \\sum_{k=1}^{K} \\frac{p(x, z_k)}{q(z_k \\mid x)},
    \\qquad z_k \\sim q(z \\mid x)

(Burda et al. 2016, eq. 8). The mean of the same log-weights is the ELBO, so
``elbo <= log_likelihood`` in expectation, and the estimate rises towards log p(x) as K grows.
For a model without latent sites the single weight is p(x) itself: K = 1 is exact.

Pyro's ``Importance`` and ``vectorized_importance_weights`` sum the weights over the whole
batch, giving one number per batch rather than per image; this module reads the per-site
log-probabilities from the traces itself and keeps the data dimension.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass

import pyro
import torch
from pyro.distributions.util import scale_and_mask

from pgm.contract import PARTICLE_PLATE, sample_sites, trace_pair
from pgm.errors import ContractError

from .defaults import DEFAULT_NUM_PARTICLES, MAX_PARTICLES
from .pair import check_count, prepare_pair, resolve_pair

__all__ = [
    "DEFAULT_NUM_PARTICLES",
    "Estimate",
    "SiteLogProbs",
    "bits_per_dim",
    "elbo",
    "estimate",
    "log_likelihood",
    "log_weights",
    "prepare_pair",
    "resolve_pair",
    "site_log_probs",
]


@dataclass
class Estimate:
    """Per-datapoint results in nats: ``log_likelihood (N,)``, ``elbo (N,)``, and, when asked,
    the ``log_weights (K, N)`` behind them (for ESS and PSIS diagnostics)."""

    log_likelihood: torch.Tensor
    elbo: torch.Tensor
    num_particles: int
    log_weights: torch.Tensor | None = None


_FOLD = 1024  # partial log-sum-exps kept per batch before folding them into one


def bits_per_dim(log_likelihood: torch.Tensor | float, num_dims: int) -> torch.Tensor | float:
    """Bits per dimension, −log p(x) / (D · ln 2), for discrete data with D = C·H·W (an
    integer >= 1: ``bits_per_dim(x, 0)`` was infinite and a negative D flipped the sign)."""
    try:  # an int, or NumPy's or torch's integer (np.prod of a shape); not 64.0 or True
        dims = operator.index(num_dims) if not isinstance(num_dims, bool) else num_dims
    except TypeError:
        dims = num_dims
    check_count("num_dims", dims)
    return -log_likelihood / (dims * math.log(2.0))


def _site_log_prob(site: dict, name: str, nesting: int) -> torch.Tensor:
    """The site's masked log-probability as ``(particles or 1, N or 1)``: every plate dim but
    the particles' (first) and the data's (last) is summed. The scale is left out: the contract
    check (:func:`pgm.contract.check_unscaled`) has refused every scale but that of a data plate
    subsampled as ``arange(N)``, which weighs datapoints for an SVI gradient, not for p(x)."""
    lp = scale_and_mask(site["unscaled_log_prob"], mask=site["mask"])
    if not torch.is_tensor(lp):
        lp = torch.as_tensor(lp)
    while lp.dim() < nesting + 1:
        lp = lp.unsqueeze(0)
    if lp.dim() > nesting + 1:
        raise ContractError(
            f"site {name!r}: log_prob has more batch dims ({lp.dim()}) than plates ({nesting + 1})"
        )
    other = tuple(range(1, lp.dim() - 1))
    return lp.sum(other) if other else lp


@dataclass
class SiteLogProbs:
    """Per-site log-probabilities of one vectorised draw of ``k`` particles, each ``(k, N)``:
    the model's observed sites log p(x | z), its latent sites log p(z), and the guide's
    log q(z | x). Their sum ``observed + prior - guide`` is the log-weight; rate and distortion
    (Alemi et al. 2018) are ``guide - prior`` and ``-observed``."""

    observed: dict[str, torch.Tensor]
    prior: dict[str, torch.Tensor]
    guide: dict[str, torch.Tensor]

    def total(self, part: str) -> torch.Tensor:
        """The sum over the sites of ``part`` (``observed``, ``prior`` or ``guide``), ``(k, N)``."""
        return sum(getattr(self, part).values(), self._zeros)

    @property
    def _zeros(self) -> torch.Tensor:
        first = next(iter(self.observed.values()))
        return torch.zeros_like(first)


def site_log_probs(model, guide, x: torch.Tensor, k: int, nesting: int) -> SiteLogProbs:
    """Trace ``k`` particles in one vectorised pass; the per-site ``(k, N)`` log-probabilities."""
    with pyro.plate(PARTICLE_PLATE, k, dim=-(nesting + 1)):
        model_trace, guide_trace = trace_pair(model, guide, x)
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    shape = (k, x.shape[0])
    parts: dict[str, dict[str, torch.Tensor]] = {"observed": {}, "prior": {}, "guide": {}}
    for name, site in sample_sites(model_trace):
        part = "observed" if site["is_observed"] else "prior"
        parts[part][name] = _site_log_prob(site, name, nesting).expand(shape)
    if not parts["observed"]:
        raise ContractError(
            "model: expected an observed site (the data observed at 'x'); found none"
        )
    for name, site in sample_sites(guide_trace):
        if not site["is_observed"]:
            parts["guide"][name] = _site_log_prob(site, name, nesting).expand(shape)
    return SiteLogProbs(**parts)


def _chunk_log_weights(model, guide, x: torch.Tensor, k: int, nesting: int) -> torch.Tensor:
    """``(k, N)`` log-weights log p(x, z_k) − log q(z_k | x), particles vectorised in one pass."""
    sites = site_log_probs(model, guide, x, k, nesting)
    return sites.total("observed") + sites.total("prior") - sites.total("guide")


def log_weights(
    model, guide, x: torch.Tensor, num_particles: int, chunk_size: int, nesting: int
) -> Iterator[torch.Tensor]:
    """Yield ``(k, N)`` chunks of log-weights until ``num_particles`` are drawn."""
    done = 0
    while done < num_particles:
        k = min(chunk_size, num_particles - done)
        yield _chunk_log_weights(model, guide, x, k, nesting)
        done += k


def estimate(
    model,
    guide=None,
    x: torch.Tensor | None = None,
    num_particles: int = DEFAULT_NUM_PARTICLES,
    *,
    batch_size: int = 256,
    max_elements: int = 2**12,
    return_log_weights: bool = False,
    progress: bool = False,
) -> Estimate:
    """Per-datapoint log p(x) and ELBO for a model/guide pair (or a built model).

    :param model: a Pyro model keeping the contract of DESIGN.md, a built model, or a
        :class:`~evaluation.pair.PreparedPair` (then ``guide`` and ``x`` are not given).
    :param guide: its guide (``None`` for a fully observed model or a built model).
    :param x: ``(N, C, H, W)`` (or ``(N, D)``) observations.
    :param num_particles: K importance samples per datapoint; ignored (1 is exact) when the
        guide has no latent sites.
    :param batch_size: datapoints evaluated together.
    :param max_elements: particles × datapoints per vectorised pass: memory does not grow with K.
    """
    check_count("num_particles", num_particles, maximum=MAX_PARTICLES)
    pair = prepare_pair(model, guide, x, probe_size=batch_size)
    model_fn, guide_fn, x, nesting = pair.model, pair.guide, pair.x, pair.nesting
    latent = pair.has_latents
    k_total = num_particles if latent else 1
    lls, elbos, weights = [], [], []
    batches = range(0, x.shape[0], batch_size)
    bar = None
    if progress:
        from inference.progress import progress_bar

        # advances per chunk of particles (K × images drawn so far), not per batch of images:
        # at K = 1000 one batch is most of a minute; off a terminal, a redraw every 30 s
        bar = progress_bar(
            total=x.shape[0] * k_total,
            desc=f"log-likelihood (K={k_total})",
            unit="sample",
            unit_scale=True,
        )
    try:
        with pair.evaluating():
            for start in batches:
                xb = x[start : start + batch_size]
                chunk = max(1, min(k_total, max_elements // max(xb.shape[0], 1)))
                lse, total, kept = [], torch.zeros(xb.shape[0], device=xb.device), []
                for lw in log_weights(model_fn, guide_fn, xb, k_total, chunk, nesting):
                    if bar is not None:
                        bar.update(lw.numel())
                    lse.append(torch.logsumexp(lw, 0))
                    if len(lse) == _FOLD:  # memory flat in K: fold the partial sums
                        lse = [torch.logsumexp(torch.stack(lse), 0)]
                    total += lw.sum(0)
                    if return_log_weights:
                        kept.append(lw.cpu())
                lls.append((torch.logsumexp(torch.stack(lse), 0) - math.log(k_total)).cpu())
                elbos.append((total / k_total).cpu())
                if return_log_weights:
                    weights.append(torch.cat(kept, 0))
    finally:
        if bar is not None:
            bar.close()
    return Estimate(
        torch.cat(lls),
        torch.cat(elbos),
        k_total,
        torch.cat(weights, 1) if return_log_weights else None,
    )


def log_likelihood(
    model,
    guide=None,
    x: torch.Tensor | None = None,
    num_particles: int = DEFAULT_NUM_PARTICLES,
    **kwargs,
) -> torch.Tensor:
    """Per-datapoint importance-sampled log p(x) in nats, ``(N,)``. See :func:`estimate`."""
    return estimate(model, guide, x, num_particles, **kwargs).log_likelihood


def elbo(
    model, guide=None, x: torch.Tensor | None = None, num_particles: int = 1, **kwargs
) -> torch.Tensor:
    """Per-datapoint ELBO in nats, ``(N,)``: the mean log-weight over ``num_particles`` draws."""
    return estimate(model, guide, x, num_particles, **kwargs).elbo
