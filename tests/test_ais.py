"""AIS with HMC and BDMC against closed forms: probabilistic PCA (Tipping & Bishop 1999), whose
marginal p(x) and posterior are exact, and Gaussian targets for the HMC kernel."""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import pytest
import scipy.stats
import torch
from test_estimator import ppca  # noqa: F401  (the shared PPCA fixture: model, guides, x, exact)

import evaluation
from evaluation.ais import ais, beta_schedule
from evaluation.bdmc import bdmc, simulate
from evaluation.hmc import Evaluation, hmc_transition


def _easy_ppca(noise: float = 1.0, scale: float = 0.7, d: int = 5, latent: int = 2):
    """A PPCA whose posterior is a few times narrower than its prior: ``(model, exact_guide,
    prior_guide)``."""
    g = torch.Generator().manual_seed(3)
    w = scale * torch.randn(d, latent, generator=g)
    mu = torch.randn(d, generator=g)

    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(latent), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z @ w.T + mu, noise).to_event(1), obs=x)

    m_inv = torch.linalg.inv(w.T @ w + noise**2 * torch.eye(latent))

    def exact_guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.MultivariateNormal((x - mu) @ w @ m_inv.T, noise**2 * m_inv))

    def prior_guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(torch.zeros(x.shape[0], latent), 1.0).to_event(1))

    return model, exact_guide, prior_guide


def _exact(model, exact_guide, x):
    # one importance weight under the exact posterior is p(x) itself (test_estimator proves it)
    return evaluation.log_likelihood(model, exact_guide, x, num_particles=1).double()


# -- the HMC kernel --------------------------------------------------------------------------
def _gaussian(mean: float, sd: float):
    def potential(u):
        return Evaluation(0.5 * ((u - mean) / sd).pow(2).sum(-1), (u - mean) / sd**2)

    return potential


def test_hmc_leaves_a_gaussian_invariant():
    """20,000 exact draws of N(2, 0.3^2) x 3 independent dims, 8 transitions with step sizes from
    small to large (acceptance from ~1 to ~0.5): the draws must still be N(2, 0.3^2). Seed 0;
    KS test at p > 0.001 per datapoint column, mean within 0.01 and sd within 2%."""
    torch.manual_seed(0)
    potential = _gaussian(2.0, 0.3)
    u = 2.0 + 0.3 * torch.randn(20000, 3, 3)
    current = potential(u)
    for _ in range(8):
        step = hmc_transition(u, current, potential, torch.tensor([0.6, 0.3, 0.05]), 4)
        u, current = step.position, step.evaluation
    assert step.accept_prob[:, 0].mean() < 0.9  # the largest step really rejects some moves
    for n in range(3):
        values = u[:, n].flatten().double()
        assert scipy.stats.kstest(values.numpy(), "norm", args=(2.0, 0.3)).pvalue > 1e-3
        assert abs(values.mean() - 2.0) < 0.01 and abs(values.std() / 0.3 - 1) < 0.02


def test_hmc_accept_reject_uses_the_hamiltonian():
    """One chain, one leapfrog step on U(u) = u^2 / 2, worked by hand: ΔH and the accept test."""
    potential = _gaussian(0.0, 1.0)
    u0, rho0, eps = torch.tensor([[[1.0]]]), torch.tensor([[[0.5]]]), 0.8
    rho_half = 0.5 - 0.5 * eps * 1.0
    u1 = 1.0 + eps * rho_half
    rho1 = rho_half - 0.5 * eps * u1
    h0, h1 = 0.5 * 1.0**2 + 0.5 * 0.5**2, 0.5 * u1**2 + 0.5 * rho1**2
    expected = min(1.0, math.exp(h0 - h1))
    assert expected < 1.0  # the step does change H, so a wrong energy would show
    for uniform, moves in ((expected - 1e-3, True), (expected + 1e-3, False)):
        step = hmc_transition(
            u0, potential(u0), potential, eps, 1, momentum=rho0, uniform=torch.tensor([[uniform]])
        )
        assert step.accept_prob.item() == pytest.approx(expected, rel=1e-5)
        assert step.position.item() == pytest.approx(u1 if moves else 1.0, rel=1e-6)
        assert step.evaluation.energy.item() == pytest.approx(0.5 * (u1 if moves else 1.0) ** 2)


# -- AIS on PPCA -----------------------------------------------------------------------------
def test_one_step_is_importance_sampling_with_the_same_draws(ppca):  # noqa: F811
    """T = 1: no transition, the weight is log p(x, z) − log q_0(z) at z ~ q_0, so C chains are
    K = C importance samples; drawn from the same random numbers they give the same numbers."""
    model, _, poor_guide, x, _ = ppca
    torch.manual_seed(5)
    is_est = evaluation.estimate(model, poor_guide, x, 64, max_elements=10**6).log_likelihood
    torch.manual_seed(5)
    ais_est = ais(model, poor_guide, x, num_steps=1, num_chains=64, max_elements=10**6)
    torch.testing.assert_close(ais_est.log_likelihood.float(), is_est, atol=1e-4, rtol=0)
    assert (
        ais_est.log_weights.shape == (64, x.shape[0]) and ais_est.log_weights.dtype == torch.float64
    )


def test_prior_start_matches_the_exact_log_likelihood():
    """Prior as the start, T = 150 (3 leapfrog steps each), 512 chains, seed 0: every one of 8
    simulated datapoints within 0.05 nats of the exact log p(x) (the chains' standard error is
    ~0.015 here)."""
    model, exact_guide, _ = _easy_ppca()
    torch.manual_seed(0)
    x, _ = simulate(model, 8, (5,))
    exact = _exact(model, exact_guide, x)
    torch.manual_seed(0)
    est = evaluation.ais_log_likelihood(
        model,
        None,
        x,
        num_steps=150,
        num_chains=512,
        start="prior",
        num_leapfrog=3,
        step_size=0.5,
        max_elements=2**13,
    )
    assert est.shape == (8,) and est.dtype == torch.float64
    assert (est - exact).abs().max() < 0.05, est - exact
    # importance sampling from the same prior with as many draws is far worse here
    torch.manual_seed(0)
    rough = evaluation.ais_log_likelihood(
        model, None, x, num_steps=1, num_chains=512, start="prior"
    )
    assert (rough - exact).abs().mean() > 2 * (est - exact).abs().mean()


def test_estimate_converges_as_the_schedule_grows(ppca):  # noqa: F811
    """The fixture's hard PPCA (a posterior ~5x narrower than the prior, off-model data) from
    the prior: the mean absolute error falls with T. Seed 0, 16 chains."""
    model, _, _, x, exact = ppca
    errors = {}
    for steps in (1, 10, 100):
        torch.manual_seed(0)
        est = ais(model, None, x, steps, 16, start="prior", num_leapfrog=4, step_size=0.2)
        errors[steps] = (est.log_likelihood - exact.double()).abs().mean().item()
    assert errors[100] < 0.5 * errors[10] < 0.5 * errors[1], errors
    assert errors[100] < 0.3, errors


def test_guide_start_with_the_exact_posterior_is_exact(ppca):  # noqa: F811
    """With q_0 = p(z|x) every f_t is the posterior up to a constant and every weight is p(x):
    the HMC moves and the weights must not disturb that (float32 round-off only)."""
    model, exact_guide, _, x, exact = ppca
    est = ais(model, exact_guide, x, 20, 4, num_leapfrog=3)
    torch.testing.assert_close(est.log_likelihood, exact.double(), atol=2e-3, rtol=0)
    assert (est.accept_rate > 0.3).all()


def test_bdmc_sandwiches_the_exact_value_and_the_gap_shrinks():
    """Simulated PPCA data: the forward (lower) and reverse (upper) AIS bounds hold on average
    over 16 datapoints up to 0.05 nats of noise, and the mean gap shrinks from T = 5 to T = 60."""
    model, exact_guide, prior_guide = _easy_ppca(noise=0.6)
    gaps = {}
    for steps in (5, 60):
        torch.manual_seed(1)
        result = bdmc(
            model, prior_guide, 16, steps, 8, data_shape=(5,), num_leapfrog=3, step_size=0.5
        )
        exact = _exact(model, exact_guide, result.x)
        assert result.lower.mean() <= exact.mean() + 0.05
        assert result.upper.mean() >= exact.mean() - 0.05
        gaps[steps] = result.gap.mean().item()
    assert 0 < gaps[60] < 0.3 * gaps[5], gaps


def test_bdmc_refuses_more_simulated_images_than_fit_in_memory():
    """``pgm bdmc RUN --num-images 1000000000`` died in the allocator with a traceback."""
    from pgm.errors import PgmError

    model, _, prior_guide = _easy_ppca()
    with pytest.raises(PgmError, match=r"^num_images: expected a request that fits in memory"):
        bdmc(model, prior_guide, 10**15, 5, 2, data_shape=(5,))


def test_schedule_and_refusals(ppca):  # noqa: F811
    model, _, poor_guide, x, _ = ppca
    b = beta_schedule(10)
    assert b[0] == 0 and b[-1] == 1 and (b.diff() > 0).all()
    assert torch.equal(beta_schedule(4, "linear"), torch.linspace(0, 1, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="num_steps"):
        ais(model, poor_guide, x, num_steps=0)
    with pytest.raises(ValueError, match="start"):
        ais(model, poor_guide, x, 2, 2, start="posterior")
    with pytest.raises(ValueError, match="schedule"):
        ais(model, poor_guide, x, 2, 2, schedule="cosine")

    def discrete_model(x):
        with pyro.plate("data", x.shape[0]):
            c = pyro.sample("c", dist.Bernoulli(0.5))
            pyro.sample(
                "x", dist.Normal(c[..., None] * torch.ones(x.shape[-1]), 1.0).to_event(1), obs=x
            )

    def discrete_guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("c", dist.Bernoulli(0.5))

    with pytest.raises(ValueError, match="site 'c'.*discrete"):
        ais(discrete_model, discrete_guide, x, 2, 2)


def test_model_without_latents_is_exact():
    probs = torch.tensor([0.2, 0.7, 0.5])
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])

    def model(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Bernoulli(probs).to_event(1), obs=x)

    result = ais(model, None, x, num_steps=50, num_chains=8)
    expected = (x * probs.log() + (1 - x) * (1 - probs).log()).sum(-1).double()
    torch.testing.assert_close(result.log_likelihood, expected)
    assert result.num_chains == 1


# -- a VAE trained briefly on digits ---------------------------------------------------------
@pytest.mark.slow
def test_vae_on_digits_ais_is_no_worse_than_is_where_khat_is_high_and_bdmc_gap():
    """A VAE (8 latent dims) trained for 200 SVI steps on the digits; 32 test images. AIS with
    T = 25, 4 leapfrog steps, 10 chains costs 10 (1 + 24 * 4) = 970 density+gradient evaluations
    per image; importance sampling gets K = 970 density evaluations. On the images where PSIS
    k-hat > 0.7 the paired mean difference AIS − IS must be >= −2.5 standard errors (seeds 0/1).
    BDMC on 8 images simulated from the model: the mean gap is finite and non-negative up to noise.
    """
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    import pgm
    from evaluation.diagnostics import psis_khat

    pyro.set_rng_seed(0)
    train = pgm.load_dataset("digits", "train").float_images()
    test = pgm.load_dataset("digits", "test").float_images()[:32]
    vae = pgm.build(
        {
            "model": "vae",
            "image_shape": [1, 8, 8],
            "num_levels": 17,
            "hidden_dim": 64,
            "latent_dim": 8,
        }
    )
    svi = SVI(vae.model, vae.guide, Adam({"lr": 3e-3}), Trace_ELBO())
    for _ in range(200):
        svi.step(train[torch.randint(0, train.shape[0], (128,))])
    steps, chains, leapfrog = 25, 10, 4
    budget = chains * (1 + (steps - 1) * leapfrog)
    torch.manual_seed(1)
    is_est = evaluation.estimate(vae, None, test, budget, return_log_weights=True)
    khat = torch.as_tensor(psis_khat(is_est.log_weights.double().numpy()))
    high = khat > 0.7
    assert high.sum() >= 5  # the claim is about these images: there must be some
    torch.manual_seed(1)
    result = ais(vae, None, test, steps, chains, num_leapfrog=leapfrog, step_size=0.3)
    diff = (result.log_likelihood - is_est.log_likelihood.double())[high]
    se = diff.std() / math.sqrt(diff.numel())
    assert diff.mean() >= -2.5 * se, (diff.mean(), se)
    torch.manual_seed(0)
    sandwich = bdmc(vae, None, 8, steps, 4, num_leapfrog=leapfrog, step_size=0.3)
    assert sandwich.lower.shape == sandwich.upper.shape == (8,)
    assert torch.isfinite(sandwich.gap).all() and sandwich.gap.mean() > -0.1, sandwich.gap


def test_benchmark_hand_written_density_is_the_path_density():
    """benchmarks/ais.py times a hand-written log p(x, z) − log q(z|x) as the unavoidable work;
    it must be the quantity AIS evaluates (guide start: log_joint − log_start at the same z)."""
    import pgm
    from benchmarks.ais import hand_written_density
    from evaluation.ais import PathDensity, initial_state, prepare

    model = pgm.build(
        {
            "model": "vae",
            "image_shape": [1, 8, 8],
            "num_levels": 2,
            "hidden_dim": 16,
            "latent_dim": 4,
        }
    )
    model.eval()
    x = torch.randint(0, 2, (5, 1, 8, 8)).float()
    values, supports = initial_state(model.model, model.guide, x, 3, 1, "guide")
    position, sites = prepare(values, supports, 1)
    parts = PathDensity(model.model, model.guide, x, 1, "guide", sites)(position)
    hand = hand_written_density(model, x, position, gradient=False)
    torch.testing.assert_close(parts[0] - parts[1], hand, atol=1e-4, rtol=1e-5)
