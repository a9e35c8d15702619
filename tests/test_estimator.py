"""The shared estimator against closed forms: probabilistic PCA (Tipping & Bishop 1999), whose
marginal p(x) = N(mu, W W^T + s^2 I) and posterior are exact."""

from __future__ import annotations

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

import evaluation
import pgm

D, L, N = 6, 2, 20
NOISE = 0.5


@pytest.fixture
def ppca():
    g = torch.Generator().manual_seed(1)
    W = torch.randn(D, L, generator=g)
    mu = torch.randn(D, generator=g)
    x = 2 * torch.randn(N, D, generator=g)

    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(L), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z @ W.T + mu, NOISE).to_event(1), obs=x)

    m = W.T @ W + NOISE**2 * torch.eye(L)
    m_inv = torch.linalg.inv(m)

    def exact_guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.MultivariateNormal((x - mu) @ W @ m_inv.T, NOISE**2 * m_inv))

    def poor_guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(torch.zeros(x.shape[0], L), 1.5).to_event(1))

    exact = dist.MultivariateNormal(mu, W @ W.T + NOISE**2 * torch.eye(D)).log_prob(x)
    return model, exact_guide, poor_guide, x, exact


def test_exact_posterior_gives_exact_log_likelihood_at_k1(ppca):
    model, exact_guide, _, x, exact = ppca
    ll = evaluation.log_likelihood(model, exact_guide, x, num_particles=1)
    assert ll.shape == (N,)
    # every importance weight equals p(x) when q is the true posterior: float32 round-off only
    torch.testing.assert_close(ll, exact, atol=1e-3, rtol=1e-5)


def test_chunked_particles_combine_exactly(ppca):
    """200 particles in chunks of a few: with the exact posterior all weights are p(x), so
    any error in combining chunks' log-sum-exps would show."""
    model, exact_guide, _, x, exact = ppca
    est = evaluation.estimate(model, exact_guide, x, 200, batch_size=7, max_elements=60)
    torch.testing.assert_close(est.log_likelihood, exact, atol=2e-3, rtol=1e-5)
    torch.testing.assert_close(est.elbo, exact, atol=2e-3, rtol=1e-5)


def test_poor_guide_converges_as_k_grows_and_elbo_is_below(ppca):
    model, _, poor_guide, x, exact = ppca
    torch.manual_seed(0)
    errors = {}
    for k in (1, 10, 100, 1000, 20000):
        est = evaluation.estimate(model, poor_guide, x, k)
        # the ELBO (mean log-weight) never exceeds the log-mean-weight: Jensen, exactly
        assert (est.elbo <= est.log_likelihood + 1e-4).all()
        errors[k] = (est.log_likelihood - exact).abs().mean().item()
    # the K-sample bound rises towards log p(x): seed 0, tolerance 0.5 nats at K = 20000
    assert errors[20000] < errors[100] < errors[1]
    assert errors[20000] < 0.5, errors
    assert evaluation.elbo(model, poor_guide, x, 1).mean() < exact.mean() - 1.0


def test_fully_observed_model_is_exact_with_one_particle():
    probs = torch.tensor([0.2, 0.7, 0.5])
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])

    def model(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Bernoulli(probs).to_event(1), obs=x)

    est = evaluation.estimate(model, None, x, num_particles=5000)
    assert est.num_particles == 1
    expected = (x * probs.log() + (1 - x) * (1 - probs).log()).sum(-1)
    torch.testing.assert_close(est.log_likelihood, expected)
    assert evaluation.bits_per_dim(est.log_likelihood, 3) == pytest.approx(
        -expected / (3 * math.log(2))
    )


def test_site_outside_data_plate_is_refused(ppca):
    _, _, _, x, _ = ppca

    def global_model(x):
        s = pyro.sample("s", dist.Normal(0.0, 1.0))
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Normal(s, 1.0).expand([x.shape[0], D]).to_event(1), obs=x)

    def global_guide(x):
        pyro.sample("s", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match="site 's'.*data"):
        evaluation.log_likelihood(global_model, global_guide, x, num_particles=2)


def test_built_models_evaluate_and_autoencoder_is_refused():
    x = pgm.load_dataset("digits", "test").float_images()[:8]
    vae = pgm.build({"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17, "hidden_dim": 32})
    est = evaluation.estimate(vae, None, x, num_particles=16)
    assert est.log_likelihood.shape == (8,) and torch.isfinite(est.log_likelihood).all()
    assert (est.elbo <= est.log_likelihood + 1e-4).all()
    ae = pgm.build({"model": "autoencoder", "image_shape": [1, 8, 8], "num_levels": 17})
    with pytest.raises(TypeError, match="no density"):
        evaluation.log_likelihood(ae, None, x)
    with pytest.raises(TypeError, match="no density"):
        evaluation.log_likelihood(ae.model, ae.guide, x)
    with pytest.raises(ValueError, match="num_particles"):
        evaluation.log_likelihood(vae, None, x, num_particles=0)


@pytest.mark.parametrize("num_dims", [0, -64, 1.5, True, "64"])
def test_bits_per_dim_refuses_a_dimension_count_that_is_no_positive_integer(num_dims):
    """``bits_per_dim(-100.0, 0)`` was inf and ``bits_per_dim(-100.0, -64)`` -2.254."""
    with pytest.raises(ValueError, match=r"^num_dims: expected an integer >= 1; found "):
        evaluation.bits_per_dim(-100.0, num_dims)
    for dims in (64, np.int64(64), torch.tensor(64)):  # NumPy's and torch's integers too
        assert evaluation.bits_per_dim(-100.0, dims) == pytest.approx(100 / (64 * math.log(2)))
