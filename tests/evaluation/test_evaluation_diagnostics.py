"""Importance-sampling and latent-variable diagnostics on probabilistic PCA, whose posterior and
marginal likelihood are known in closed form (Tipping & Bishop 1999):

    z ~ N(0, I_L),  x | z ~ N(W z + mu, s² I_D)
    p(z | x) = N(Σ Wᵀ (x − mu) / s², Σ),  Σ = (I + Wᵀ W / s²)⁻¹
    p(x) = N(mu, W Wᵀ + s² I)

With the exact posterior as guide every importance weight equals p(x): k-hat ~ 0 and the ESS
is K. A guide far from the posterior gives heavy-tailed weights: k-hat above 0.7.
"""

from __future__ import annotations

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

from evaluation.diagnostics import (
    KHAT_UNRELIABLE,
    active_units,
    collapse_kind,
    effective_sample_size,
    estimate_vs_particles,
    particle_grid,
    psis_khat,
    rate_distortion,
)
from evaluation.log_likelihood import estimate

L, D, N = 2, 5, 24


@pytest.fixture(scope="module")
def ppca():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(D, L, generator=g, dtype=torch.float64)
    mu = torch.randn(D, generator=g, dtype=torch.float64)
    s = 0.5
    z = torch.randn(N, L, generator=g, dtype=torch.float64)
    x = z @ w.T + mu + s * torch.randn(N, D, generator=g, dtype=torch.float64)
    cov = torch.linalg.inv(torch.eye(L, dtype=torch.float64) + w.T @ w / s**2)
    post_mean = (x - mu) @ w @ cov.T / s**2  # (N, L)
    marginal = dist.MultivariateNormal(
        mu, w @ w.T + s**2 * torch.eye(D, dtype=torch.float64)
    ).log_prob(x)

    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(L, dtype=x.dtype), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z @ w.T + mu, s).to_event(1), obs=x)

    def exact_guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample(
                "z", dist.MultivariateNormal(post_mean, scale_tril=torch.linalg.cholesky(cov))
            )

    def poor_guide(x):
        # shifted by 3 posterior sds and ten times too narrow: the posterior's bulk sits in the
        # proposal's far tail, so a few draws carry all the weight
        sd = cov.diagonal().sqrt()
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(post_mean + 3 * sd, 0.1 * sd).to_event(1))

    return {
        "model": model,
        "exact": exact_guide,
        "poor": poor_guide,
        "x": x,
        "marginal": marginal,
        "post_mean": post_mean,
    }


def test_khat_and_ess_separate_good_and_poor_proposals(ppca):
    """Tolerances: exact guide — every k-hat < 0.5 (weights constant up to rounding) and ESS
    within 1e-6 of K; poor guide — median k-hat > 0.7 and mean ESS below 5% of K. Seed 0."""
    k = 1000
    torch.manual_seed(0)
    good = estimate(ppca["model"], ppca["exact"], ppca["x"], k, return_log_weights=True)
    torch.manual_seed(0)
    poor = estimate(ppca["model"], ppca["poor"], ppca["x"], k, return_log_weights=True)
    # the exact posterior makes the estimator exact with any K
    assert torch.allclose(good.log_likelihood.double(), ppca["marginal"], atol=1e-4)
    kg, kp = psis_khat(good.log_weights), psis_khat(poor.log_weights)
    assert kg.shape == kp.shape == (N,)
    assert np.all(kg < 0.5), kg
    assert np.median(kp) > KHAT_UNRELIABLE, kp
    ess_good, ess_poor = (
        effective_sample_size(good.log_weights),
        effective_sample_size(poor.log_weights),
    )
    assert np.allclose(ess_good, k, rtol=1e-6)
    assert ess_poor.mean() < 0.05 * k
    # and the poor proposal's estimate falls below the truth (a lower bound in expectation)
    assert (poor.log_likelihood.double() < ppca["marginal"]).float().mean() > 0.9


def test_effective_sample_size_extremes():
    lw = torch.zeros(10, 3)
    lw[0, 1] = 50.0  # one weight dominates image 1
    ess = effective_sample_size(lw)
    assert ess[0] == pytest.approx(10) and ess[2] == pytest.approx(10)
    assert ess[1] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="log_weights"):
        effective_sample_size(np.zeros((2, 2, 2)))


def test_estimate_against_k_converges_and_starts_at_the_elbo(ppca):
    """The curve rises from the ELBO (K = 1) towards log p(x): the mean at the largest K is
    within 0.05 nats per image of the truth (seed 0), and never above it by more than that."""
    torch.manual_seed(0)
    curve = estimate_vs_particles(
        ppca["model"], ppca["x"], max_particles=2000, guide=_broad_guide(ppca), seed=0
    )
    assert curve.num_particles[0] == 1 and curve.num_particles[-1] == 2000
    truth = float(ppca["marginal"].mean())
    assert curve.mean[0] < curve.mean[-1]
    assert abs(curve.mean[-1] - truth) < 0.05
    assert max(curve.mean) < truth + 0.05
    assert curve.std[-1] == 0.0 and curve.std[0] > 0
    torch.manual_seed(0)
    one = estimate(ppca["model"], _broad_guide(ppca), ppca["x"], 2000)
    # K = 1 averaged over all draws is the mean log-weight, i.e. the estimator's ELBO
    assert curve.mean[0] == pytest.approx(float(one.elbo.double().mean()), abs=1e-4)
    grid = particle_grid(5000)
    assert grid[0] == 1 and grid[-1] == 5000 and all(np.diff(grid) > 0)
    assert particle_grid(1) == [1]


def _broad_guide(ppca):
    """The exact posterior mean with twice its sd: a usable but imperfect proposal."""

    def guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(ppca["post_mean"], 2 * 0.3).to_event(1))

    return guide


def test_rate_plus_distortion_is_the_negative_elbo(ppca):
    """rate + distortion = −ELBO per image (same traces), to Monte Carlo error: with the exact
    posterior guide the ELBO's integrand log p(x,z) − log q(z|x) is the constant log p(x), so the
    equality holds to 1e-6 per image; the rate is the KL, positive."""
    torch.manual_seed(0)
    rate, distortion = rate_distortion(
        ppca["model"], ppca["x"], num_particles=64, guide=ppca["exact"]
    )
    assert rate.shape == distortion.shape == (N,)
    assert torch.allclose(-(rate + distortion).double(), ppca["marginal"], atol=1e-6)
    assert (rate > 0).all()


def test_active_units_counts_varying_dimensions():
    """Burda et al. (2016): unit u active when Cov_x(E_q[z_u|x]) > 0.01. Seed 0."""
    g = torch.Generator().manual_seed(0)
    codes = torch.cat(
        [torch.randn(500, 3, generator=g), 0.05 * torch.randn(500, 2, generator=g)], 1
    )
    n, activity = active_units(codes)
    assert n == 3
    assert activity.shape == (5,) and np.all(activity[:3] > 0.5) and np.all(activity[3:] < 0.01)
    with pytest.raises(ValueError, match="codes"):
        active_units(torch.zeros(1, 3))


def test_collapse_rule_full_and_partial():
    """Synthetic diagnostics (rate in nats per image, active units, latent dim): no unit active or
    a rate under 0.1 nat is collapse; fewer than half active, or a rate under 1 nat, is partial
    collapse (the near-collapsed PixelVAE of issue 23: rate 0.29 nats, 4 of 8 units active)."""
    assert collapse_kind(0.01, 0, 5) == "posterior-collapse"
    assert collapse_kind(3.0, 0, 5) == "posterior-collapse"
    assert collapse_kind(0.05, 4, 8) == "posterior-collapse"
    assert collapse_kind(0.29, 4, 8) == "partial-collapse"
    assert collapse_kind(2.3, 3, 16) == "partial-collapse"
    assert collapse_kind(20.0, 8, 16) is None  # half the units, a real rate: not flagged
    assert collapse_kind(5.0, 3, 5) is None


def test_rate_distortion_refuses_a_model_without_latents():
    def model(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Normal(0.0, 1.0).expand([x.shape[0], 3]).to_event(1), obs=x)

    with pytest.raises(ValueError, match="latent"):
        rate_distortion(model, torch.zeros(4, 3))
    assert math.isnan(psis_khat(torch.zeros(3, 2))[0])  # too few draws for a tail fit
