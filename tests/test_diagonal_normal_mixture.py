"""The diagonal-Gaussian mixture (the VampPrior's density) equals Pyro's MixtureSameFamily in
value and gradient, its samples follow it, and the VampPrior uses it."""

from __future__ import annotations

import pyro.distributions as dist
import pytest
import torch

import pgm
from pgm.distributions import DiagonalNormalMixture


def reference(loc, scale, logits):
    return dist.MixtureSameFamily(
        dist.Categorical(logits=logits), dist.Normal(loc, scale).to_event(1)
    )


def test_log_prob_and_gradient_equal_mixture_same_family():
    torch.manual_seed(0)
    loc = torch.randn(30, 5, requires_grad=True)
    scale = (torch.rand(30, 5) * 0.9 + 0.01).requires_grad_()
    logits = torch.randn(30, requires_grad=True)
    z = torch.randn(7, 3, 5)
    z[0, 0] = loc[4].detach() + 1e-4  # next to a narrow component's mean: no cancellation loss
    ours, ref = (
        DiagonalNormalMixture(loc, scale, logits).log_prob(z),
        reference(loc, scale, logits).log_prob(z),
    )
    assert ours.shape == (7, 3)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-4)
    g1 = torch.autograd.grad(ours.sum(), (loc, scale, logits))
    g2 = torch.autograd.grad(ref.sum(), (loc, scale, logits))
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_samples_follow_the_mixture():
    """Seed 0, 200,000 draws: sample mean and variance within 0.02 of the closed forms."""
    torch.manual_seed(0)
    loc, scale, logits = (
        torch.randn(4, 2) * 3,
        torch.rand(4, 2) + 0.2,
        torch.tensor([0.0, 1.0, -1.0, 0.5]),
    )
    d = DiagonalNormalMixture(loc, scale, logits)
    x = d.sample((200_000,))
    assert x.shape == (200_000, 2)
    torch.testing.assert_close(x.mean(0), d.mean, atol=0.02, rtol=0)
    torch.testing.assert_close(x.var(0), d.variance, atol=0.02 * d.variance.max().item(), rtol=0)


def test_vampprior_density_is_the_mixture_of_guide_posteriors():
    model = pgm.build(
        {
            "image_shape": [1, 8, 8],
            "num_levels": 2,
            "prior": "vamp",
            "num_components": 6,
            "hidden_dims": [16],
            "latent_dim": 3,
        }
    )
    prior = model.prior()
    assert isinstance(prior, DiagonalNormalMixture)
    u = torch.sigmoid(model.prior.pseudo_inputs)
    q = model.posterior.gaussian(u).base_dist
    z = torch.randn(5, 3)
    torch.testing.assert_close(
        prior.log_prob(z), reference(q.loc, q.scale, torch.zeros(6)).log_prob(z)
    )


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="loc, scale: expected two tensors of the same shape"):
        DiagonalNormalMixture(torch.zeros(3, 2), torch.ones(3, 3))
