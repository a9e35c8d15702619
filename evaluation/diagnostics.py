"""Diagnostics of the importance-sampled estimate and of latent-variable models: effective
sample size, PSIS k-hat, the estimate as a function of K, rate and distortion, active units.

The estimate log p̂(x) = log (1/K) Σ_k w_k is trustworthy only when the weights
w_k = p(x, z_k) / q(z_k | x) are not dominated by a few particles:

* the effective sample size ``ESS = (Σ w)² / Σ w²`` (Kish 1965) says how many of the K draws
  effectively count;
* the Pareto shape k-hat of the weights' upper tail (Vehtari et al. 2024, PSIS) says whether the
  weights' variance is finite at all: k-hat < 0.5 good, 0.5–0.7 usable but slow to converge,
  > 0.7 the estimate is unreliable whatever K (the threshold is ``min(1 − 1/log10 K, 0.7)``
  for small K);
* the mean of the K-particle estimate, a lower bound of log p(x) that rises with K (Burda et
  al. 2016, Theorem 1), drawn against K shows whether it has converged.

For a VAE, rate R = E_q[log q(z|x) − log p(z)] (the KL term) and distortion
D = −E_q[log p(x|z)] (Alemi et al. 2018) split the negative ELBO, and the active units
(Burda et al. 2016, §5.2: Cov_x(E_q[z_u | x]) > 0.01) count the latent dimensions the model
uses; none active, or a rate near zero, is posterior collapse; fewer than half active, or a
rate under one nat, is partial collapse.

References:
  * Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, ICLR.
  * Vehtari, Simpson, Gelman, Yao & Gabry (2024), Pareto smoothed importance sampling, JMLR 25(72).
  * Alemi et al. (2018), Fixing a Broken ELBO, ICML.
  * Kish (1965), Survey Sampling.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from pgm.contract import probe
from pgm.errors import PgmError
from pgm.parts import MEAN_DRAWS, mean_of

from .log_likelihood import estimate, resolve_pair, site_log_probs
from .pair import prepare_pair

__all__ = [
    "ACTIVE_UNIT_THRESHOLD",
    "KHAT_GOOD",
    "KHAT_UNRELIABLE",
    "KCurve",
    "active_units",
    "COLLAPSE_RATE_NATS",
    "NEAR_COLLAPSE_RATE_NATS",
    "collapse_kind",
    "effective_sample_size",
    "estimate_vs_particles",
    "khat_threshold",
    "particle_grid",
    "posterior_mean",
    "psis_khat",
    "rate_distortion",
]

KHAT_GOOD = 0.5
KHAT_UNRELIABLE = 0.7
ACTIVE_UNIT_THRESHOLD = 0.01
# a KL below this (nats per image) carries less than one tenth of a nat about x: the
# posterior is the prior, whatever the number of nominally active units
COLLAPSE_RATE_NATS = 0.1
# below this the code carries less than one nat about each image: nearly collapsed, whatever the
# number of units that vary (a PixelVAE's decoder can model the image without z)
NEAR_COLLAPSE_RATE_NATS = 1.0


def _as_weights(log_weights) -> np.ndarray:
    lw = (
        log_weights.detach().cpu().double().numpy()
        if torch.is_tensor(log_weights)
        else np.asarray(log_weights, dtype=np.float64)
    )
    if lw.ndim == 1:
        lw = lw[:, None]
    if lw.ndim != 2 or lw.shape[0] < 1:
        raise PgmError(f"log_weights: expected shape (K, N); found {lw.shape}")
    return lw


def effective_sample_size(log_weights) -> np.ndarray:
    """Kish's ESS ``(Σ w)² / Σ w²`` per datapoint from ``log_weights: (K, N)``; in [1, K]."""
    lw = _as_weights(log_weights)
    lw = lw - lw.max(0, keepdims=True)
    w = np.exp(lw)
    return w.sum(0) ** 2 / (w**2).sum(0)


def khat_threshold(num_particles: int) -> float:
    """The k-hat above which PSIS with ``num_particles`` draws is unreliable:
    ``min(1 − 1/log10 K, 0.7)`` (Vehtari et al. 2024, §3.2.4)."""
    if num_particles < 11:
        return -math.inf
    return min(1.0 - 1.0 / math.log10(num_particles), KHAT_UNRELIABLE)


def psis_khat(log_weights) -> np.ndarray:
    """The Pareto-k diagnostic per datapoint from ``log_weights: (K, N)``, through ArviZ's
    ``psislw`` (Vehtari et al. 2024), ``(N,)``.

    Weights equal to each other up to float rounding (the guide *is* the posterior) have no tail
    to fit; their k-hat is reported as 0, the value of bounded weights' tail, rather than the
    ``inf`` that a fit on fewer than five distinct tail values returns."""
    import arviz as az

    lw = _as_weights(log_weights)
    k, n = lw.shape
    khat = np.full(n, np.nan)
    if k < 5:
        return khat
    spread = lw.max(0) - lw.min(0)
    constant = spread <= 1e-5 * np.maximum(1.0, np.abs(lw).max(0))
    khat[constant] = 0.0
    if constant.all():
        return khat
    with warnings.catch_warnings():
        # "Estimated shape parameter of Pareto distribution is greater than 0.7" is exactly the
        # finding this function returns (and the report flags), not a fault of the caller; a
        # degenerate tail makes the fit divide by zero, and its k-hat comes back NaN (undefined)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        _, fitted = az.psislw(lw[:, ~constant].T.copy(), reff=1.0)
    khat[~constant] = np.asarray(fitted, dtype=np.float64).reshape(-1)
    return khat


def particle_grid(max_particles: int, num: int = 12) -> list[int]:
    """Log-spaced K from 1 to ``max_particles`` (both included), distinct integers."""
    if max_particles < 1:
        raise PgmError(f"max_particles: expected an integer >= 1; found {max_particles}")
    grid = np.unique(np.round(np.logspace(0, math.log10(max_particles), num)).astype(int))
    return [int(k) for k in grid]


@dataclass
class KCurve:
    """The K-particle estimate against K on a subset of images.

    ``mean[i]``: E[log p̂_K] averaged over the subset at ``num_particles[i]``, estimated from
    ``max_particles // K`` disjoint blocks of K draws; ``std[i]``: the spread of that subset mean
    across blocks (0 where there is one block). At K = 1 the value is the ELBO."""

    num_particles: list[int]
    mean: list[float]
    std: list[float]
    num_images: int

    def as_dict(self) -> dict:
        return {
            "num_particles": self.num_particles,
            "mean": self.mean,
            "std": self.std,
            "num_images": self.num_images,
        }


def estimate_vs_particles(
    model,
    x: torch.Tensor,
    max_particles: int = 5000,
    grid: list[int] | None = None,
    guide=None,
    seed: int = 0,
    log_weights: torch.Tensor | None = None,
) -> KCurve:
    """The convergence curve of the shared estimator in K for images ``x: (n, ...)``.

    Draws ``max_particles`` log-weights once per image (through :func:`estimate`), then, for each
    K of the grid, splits them into disjoint blocks of K: each block is an independent K-sample
    estimate, so the curve's points are unbiased for E[log p̂_K] (Burda et al. 2016, Fig. 2)."""
    if log_weights is None:
        torch.manual_seed(seed)
        log_weights = estimate(model, guide, x, max_particles, return_log_weights=True).log_weights
    lw = log_weights.double()
    total = lw.shape[0]
    grid = grid or particle_grid(total)
    means, stds = [], []
    for k in grid:
        if not 1 <= k <= total:
            raise PgmError(f"grid: expected K in [1, {total}]; found {k}")
        blocks = total // k
        b = lw[: blocks * k].reshape(blocks, k, -1)
        per_block = (torch.logsumexp(b, 1) - math.log(k)).mean(-1)  # (blocks,)
        means.append(float(per_block.mean()))
        stds.append(float(per_block.std()) if blocks > 1 else 0.0)
    return KCurve([int(k) for k in grid], means, stds, int(lw.shape[1]))


def rate_distortion(
    model,
    x: torch.Tensor,
    num_particles: int = 8,
    guide=None,
    batch_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-datapoint rate ``(N,)`` E_q[log q(z|x) − log p(z)] and distortion ``(N,)``
    −E_q[log p(x|z)] in nats, Monte Carlo over ``num_particles`` draws of the guide, read from
    the same per-site traces as the estimator (so −(rate + distortion) is its ELBO)."""
    # the estimators' shared preparation: data and contract checked once
    pair = prepare_pair(model, guide, x, probe_size=batch_size)
    model_fn, guide_fn, x, nesting = pair.model, pair.guide, pair.x, pair.nesting
    if not pair.has_latents:
        raise PgmError(
            "model: expected a latent-variable model (a guide with latent sites); found none"
        )
    rates, distortions = [], []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            sites = site_log_probs(
                model_fn, guide_fn, x[start : start + batch_size], num_particles, nesting
            )
            rates.append((sites.total("guide") - sites.total("prior")).mean(0).cpu())
            distortions.append((-sites.total("observed")).mean(0).cpu())
    return torch.cat(rates), torch.cat(distortions)


@torch.no_grad()
def posterior_mean(
    model, x: torch.Tensor, num_samples: int = MEAN_DRAWS, batch_size: int = 512
) -> torch.Tensor:
    """E_q[z | x], ``(N, L)``: :func:`pgm.parts.mean_of` of the model's ``posterior`` (the same
    E[z | x] as ``encode``: exact where the guide's distribution has a mean, else Monte Carlo
    over ``num_samples`` draws; see :data:`pgm.parts.MEAN_DRAWS` for why that many). A model
    without ``posterior`` (a plain Pyro pair) gets the Monte Carlo mean of its guide's latent
    sites, flattened and joined."""
    if getattr(model, "posterior", None) is None:
        return _guide_mean(model, x, num_samples, batch_size)
    return torch.cat(
        [
            mean_of(model.posterior(x[start : start + batch_size]), num_samples)
            for start in range(0, x.shape[0], batch_size)
        ]
    )


@torch.no_grad()
def _guide_mean(model, x: torch.Tensor, num_samples: int, batch_size: int) -> torch.Tensor:
    """E_q[z | x] ``(N, L)`` over ``num_samples`` vectorised draws of any guide keeping the
    contract (an outer particle plate; latent sites in the data plate at dim -1)."""
    import pyro
    from pyro import poutine

    from pgm.contract import latent_sites

    model_fn, guide_fn, owner = resolve_pair(model)
    if owner is not None:
        x = x.to(owner.device).float()
    nesting, _ = probe(model_fn, guide_fn, x[:2])
    out = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size]
        with pyro.plate("_pgm_particles", num_samples, dim=-(nesting + 1)):
            trace = poutine.trace(guide_fn).get_trace(xb)
        means = []
        for name in latent_sites(trace):
            value = trace.nodes[name]["value"]
            event = trace.nodes[name]["fn"].event_shape
            value = value.expand(num_samples, *value.shape[value.dim() - nesting - len(event) :])
            means.append(value.float().mean(0).reshape(xb.shape[0], -1))
        out.append(torch.cat(means, -1))
    return torch.cat(out)


def active_units(
    codes: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD
) -> tuple[int, np.ndarray]:
    """``(number active, activity per unit (L,))`` from posterior means ``codes: (N, L)``:
    unit u is active when A_u = Cov_x(E_q[z_u | x]) > ``threshold`` (Burda et al. 2016, §5.2)."""
    if codes.dim() != 2 or codes.shape[0] < 2:
        raise PgmError(
            f"codes: expected posterior means (N, L) with N >= 2; found {tuple(codes.shape)}"
        )
    activity = codes.double().var(0).cpu().numpy()
    return int((activity > threshold).sum()), activity


def collapse_kind(rate: float, num_active: int, latent_dim: int) -> str | None:
    """Whether a latent model's code has collapsed onto the prior, from its rate (nats per image)
    and its active units: ``"posterior-collapse"`` (no unit active, or a rate under
    :data:`COLLAPSE_RATE_NATS`), ``"partial-collapse"`` (fewer than half the units active, or a
    rate under :data:`NEAR_COLLAPSE_RATE_NATS`: a code carrying less than a nat about each image,
    as a PixelVAE whose autoregressive decoder does the work), or ``None``."""
    if num_active == 0 or rate < COLLAPSE_RATE_NATS:
        return "posterior-collapse"
    if num_active < latent_dim / 2 or rate < NEAR_COLLAPSE_RATE_NATS:
        return "partial-collapse"
    return None
