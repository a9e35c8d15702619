"""The hierarchical VAE: its estimate against a closed form, and the built model on real digits.

The closed form is a linear-Gaussian two-layer model (PPCA stacked twice),

    z2 ~ N(0, I),  z1 | z2 ~ N(A z2 + a, s1^2 I),  x | z1 ~ N(B z1 + b, s^2 I),

whose marginal p(x) = N(B a + b, B (A A^T + s1^2 I) B^T + s^2 I) and posteriors p(z2 | x),
p(z1 | x, z2) are Gaussian in closed form. It runs through :class:`pgm.hvae.HierarchicalVAE`
itself (its sites, plates and particle dims), with linear parts in place of the networks.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch import nn

import evaluation
import pgm
from pgm.hvae import HierarchicalVAE, TwoLayerPosterior
from pgm.model_config import inapplicable_keys

D, L1, L2, N = 5, 3, 2, 20
S1, S = 0.7, 0.5  # the noise scales of z1 | z2 and x | z1


class _Lazy(nn.Module):
    """A part as the HVAE expects one: ``forward(*inputs) -> distribution``."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *inputs):
        return self.fn(*inputs)


@pytest.fixture
def linear_gaussian():
    dtype = torch.float64
    g = torch.Generator().manual_seed(3)
    A, a = torch.randn(L1, L2, generator=g, dtype=dtype), torch.randn(L1, generator=g, dtype=dtype)
    B, b = torch.randn(D, L1, generator=g, dtype=dtype), torch.randn(D, generator=g, dtype=dtype)
    x = 2 * torch.randn(N, D, generator=g, dtype=dtype)

    cov_z1 = A @ A.T + S1**2 * torch.eye(L1, dtype=dtype)
    mean_x, cov_x = B @ a + b, B @ cov_z1 @ B.T + S**2 * torch.eye(D, dtype=dtype)
    exact = dist.MultivariateNormal(mean_x, cov_x).log_prob(x)

    # p(z2 | x): Gaussian conditioning of the joint (z2, x), cross-covariance A^T B^T
    gain = A.T @ B.T @ torch.linalg.inv(cov_x)  # (L2, D)
    post2_cov = torch.eye(L2, dtype=dtype) - gain @ B @ A
    # p(z1 | x, z2) = p(z1 | x, z2) of x ⊥ z2 | z1: precision I/s1^2 + B^T B / s^2
    post1_cov = torch.linalg.inv(torch.eye(L1, dtype=dtype) / S1**2 + B.T @ B / S**2)

    def exact_top(x):
        return dist.MultivariateNormal((x - mean_x) @ gain.T, post2_cov)

    def exact_bottom(x, z2):
        info = (z2 @ A.T + a) / S1**2 + (x - b) @ B / S**2
        return dist.MultivariateNormal(info @ post1_cov.T, post1_cov)

    def poor_top(x):  # the prior, widened: ignores x
        return dist.Normal(torch.zeros(x.shape[0], L2, dtype=dtype), 1.5).to_event(1)

    def poor_bottom(x, z2):  # the exact conditional's mean, a too-wide diagonal scale
        return dist.Normal(exact_bottom(x, z2).mean, 1.3 * post1_cov.diagonal().sqrt()).to_event(1)

    def make(top, bottom):
        cfg = {"image_shape": (D,), "num_levels": 0, "latent_dim": L1, "latent_dim_top": L2}
        return HierarchicalVAE(
            _Lazy(lambda: dist.Normal(torch.zeros(L2, dtype=dtype), 1.0).to_event(1)),
            TwoLayerPosterior(_Lazy(top), _Lazy(bottom)),
            _Lazy(lambda z2: dist.Normal(z2 @ A.T + a, S1).to_event(1)),
            # the likelihood reads the code (z1, z2) and ignores z2, as x ⊥ z2 | z1
            _Lazy(lambda code: dist.Normal(code[..., :L1] @ B.T + b, S).to_event(1)),
            cfg,
        )

    return make(exact_top, exact_bottom), make(poor_top, poor_bottom), x, exact


def test_sites_and_shapes_follow_the_paper(linear_gaussian):
    model, _, x, _ = linear_gaussian
    guide_trace = pyro.poutine.trace(model.guide).get_trace(x)
    assert [n for n in guide_trace.stochastic_nodes if n != "data"] == ["z2", "z1"]
    assert guide_trace.nodes["z2"]["value"].shape == (N, L2)
    assert guide_trace.nodes["z1"]["value"].shape == (N, L1)
    with pyro.plate("particles", 7, dim=-2):
        model_trace = pyro.poutine.trace(model.model).get_trace(x)
    assert model_trace.nodes["z1"]["value"].shape == (7, N, L1)
    assert model_trace.nodes["x"]["fn"].batch_shape == (7, N)


def test_exact_posterior_gives_exact_log_likelihood_at_k1(linear_gaussian):
    model, _, x, exact = linear_gaussian
    torch.manual_seed(0)
    ll = evaluation.log_likelihood(model, None, x, num_particles=1)
    assert ll.shape == (N,)
    # every weight is p(x) when q(z2|x) q(z1|x,z2) is the posterior: round-off only (float64
    # parts, but the estimator hands a built model its images in float32: errors ~ 1e-6 nats)
    torch.testing.assert_close(ll, exact, atol=1e-4, rtol=0)
    est = evaluation.estimate(model, None, x, 50, max_elements=300)
    torch.testing.assert_close(est.log_likelihood, exact, atol=1e-4, rtol=0)
    torch.testing.assert_close(est.elbo.double(), exact, atol=1e-4, rtol=0)


def test_poor_guide_converges_as_k_grows_and_elbo_is_below(linear_gaussian):
    _, model, x, exact = linear_gaussian
    torch.manual_seed(0)
    errors = {}
    for k in (1, 10, 100, 1000, 20000):
        est = evaluation.estimate(model, None, x, k)
        # Jensen, exactly (the ELBO is kept in float32: 1e-4 for its rounding at K = 1)
        assert (est.elbo.double() <= est.log_likelihood + 1e-4).all()
        errors[k] = (est.log_likelihood - exact).abs().mean().item()
    # seed 0: the K-sample bound rises towards log p(x), within 0.05 nats at K = 20000
    print("mean |error| by K:", errors)
    assert errors[20000] < errors[100] < errors[1], errors
    assert errors[20000] < 0.05, errors
    assert evaluation.elbo(model, None, x, 1).mean() < exact.mean() - 1.0


# --- the built model -----------------------------------------------------------------------------


def _build(**options):
    cfg = {"model": "hvae", "image_shape": [1, 8, 8], "num_levels": 2, "hidden_dim": 32}
    cfg.update(latent_dim=4, latent_dim_top=3)
    cfg.update(options)
    return pgm.build(cfg)


def _svi_steps(model, x, steps):
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    elbo = pyro.infer.Trace_ELBO(num_particles=2, vectorize_particles=True, max_plate_nesting=1)
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = elbo.differentiable_loss(model.model, model.guide, x) / x.shape[0]
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


def test_hvae_trains_on_digits_and_its_estimate_is_finite():
    x = pgm.load_dataset("digits-binary", "train").float_images()[:64]
    torch.manual_seed(0)
    model = _build()
    assert model.latent_dims == (4, 3) and model.latent_dim == 7
    losses = _svi_steps(model, x, 25)
    # 25 Adam steps on 64 real binary digits: the loss per image falls (seed 0)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.0, losses
    est = evaluation.estimate(model, None, x[:16], num_particles=32)
    assert torch.isfinite(est.log_likelihood).all()
    assert (est.elbo <= est.log_likelihood + 1e-4).all()
    assert model.encode(x[:5]).shape == (5, 7)
    assert model.reconstruct(x[:5]).shape == (5, 1, 8, 8)


@pytest.mark.parametrize("network", ["mlp", "gated-mlp", "conv"])
def test_pixel_hvae_with_vamp_prior_builds_steps_and_samples(network):
    x = pgm.load_dataset("digits-binary", "train").float_images()[:16]
    torch.manual_seed(0)
    model = _build(
        prior="vamp",
        likelihood="pixelcnn",
        network=network,
        num_components=5,
        num_layers=2,
        hidden_channels=8,
    )
    before = [p.detach().clone() for p in model.parameters()]
    losses = _svi_steps(model, x, 1)
    assert all(map(lambda v: v == v, losses))  # finite
    changed = [not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)]
    assert all(changed)  # every parameter (the pseudo-inputs too) got a gradient step
    samples = model.sample(3)
    assert samples.shape == (3, 1, 8, 8) and set(samples.unique().tolist()) <= {0.0, 1.0}
    torch.manual_seed(1)
    fast = model.sample(2, cached=True)
    torch.manual_seed(1)
    assert torch.equal(fast, model.sample(2, cached=False))


def test_vamp_prior_on_z2_is_the_top_guide_at_pseudo_inputs():
    torch.manual_seed(0)
    model = _build(prior="vamp", num_components=6)
    u = torch.sigmoid(model.prior.pseudo_inputs)
    mixture = model.prior()  # DiagonalNormalMixture: one component per pseudo-input
    assert mixture.loc.shape == (6, 3) and mixture.scale.shape == (6, 3)
    torch.testing.assert_close(mixture.loc, model.posterior.top(u).mean)


def test_latent_dim_top_defaults_to_latent_dim_and_is_checked():
    assert (
        pgm.resolve_model_config({"image_shape": [1, 8, 8], "num_levels": 2})["latent_dim_top"]
        == 16
    )
    with pytest.raises(ValueError, match="latent_dim_top: expected an integer >= 1; found 0"):
        _build(latent_dim_top=0)


def _gated_count(fan_in: int, fan_out: int) -> int:
    return 2 * (fan_in * fan_out + fan_out)  # a GatedDense: a linear layer and its gate


def test_per_layer_decoder_is_the_authors_p_x_given_z1_z2():
    """``decoder_input = "per-layer"``: gated L1-H and L2-H towers, then gated 2H-H and a linear
    H-D output, as the VampPrior authors' p(x | z1, z2); ``joint`` is (L1 + L2)-H-H-D."""
    cfg = dict(network="gated-mlp", hidden_dims=[12, 10], latent_dim=4, latent_dim_top=3)
    joint = _build(**cfg)
    torch.manual_seed(0)
    split = _build(**cfg, decoder_input="per-layer")
    n = lambda m: sum(p.numel() for p in m.likelihood.parameters())  # noqa: E731
    assert n(joint) == _gated_count(7, 10) + _gated_count(10, 12) + (12 * 64 + 64)
    assert n(split) == _gated_count(4, 10) + _gated_count(3, 10) + _gated_count(20, 12) + (
        12 * 64 + 64
    )
    # each tower reads its own layer only: z1 moves tower 1's features, never tower 2's
    z = torch.randn(5, 7)
    moved = z.clone()
    moved[:, :4] += 1.0
    f, g = split.likelihood.features(z), split.likelihood.features(moved)
    assert f.shape == (5, 20)
    assert not torch.allclose(f[:, :10], g[:, :10]) and torch.equal(f[:, 10:], g[:, 10:])
    # the model is whole: p(x | z) has the image's event, E[x | z] is its mean, particles broadcast
    assert split.likelihood(torch.randn(6, 5, 7)).batch_shape == (6, 5)
    torch.testing.assert_close(split.likelihood.mean(z), split.likelihood(z).mean)
    x = pgm.load_dataset("digits-binary", "train").float_images()[:64]
    losses = _svi_steps(split, x, 25)
    # 25 Adam steps on 64 real binary digits: the loss per image falls (seed 0)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.0, losses
    est = evaluation.estimate(split, None, x[:16], num_particles=32)
    assert (est.elbo <= est.log_likelihood + 1e-4).all()


def test_per_layer_decoder_refuses_what_it_cannot_build():
    with pytest.raises(ValueError, match=r"decoder_input: 'per-layer' expects two or more"):
        _build(hidden_dims=[12], decoder_input="per-layer")
    with pytest.raises(ValueError, match=r"closed-form mean .* found likelihood 'pixelcnn'"):
        _build(likelihood="pixelcnn", num_layers=2, hidden_channels=8, decoder_input="per-layer")
    with pytest.raises(ValueError, match=r"decoder_input: expected one of joint, per-layer"):
        _build(decoder_input="split")
    # a one-layer VAE has no z1/z2 to split: the key is listed as not read
    cfg = pgm.resolve_model_config(
        {"image_shape": [1, 8, 8], "num_levels": 2, "decoder_input": "per-layer"}
    )
    assert "decoder_input" in inapplicable_keys(cfg)


def _gated_conv_count(c_in: int, c_out: int, kernel: int) -> int:
    return 2 * (c_in * c_out * kernel * kernel + c_out)  # a GatedConv2d: a convolution and gate


def test_gated_conv_hvae_is_the_authors_conv_hvae_layer_for_layer():
    """``network = "gated-conv"`` with ``decoder_input = "per-layer"``: the VampPrior authors'
    convHVAE (their ``models/convHVAE_2level.py``) on 28x28 binary images, z1 = z2 = 40, H = 300,
    500 pseudo-inputs, counted part by part from their layer list."""
    q_z2_convs = [(1, 32, 7), (32, 32, 3), (32, 64, 5), (64, 64, 3), (64, 6, 3)]
    q_z1_convs = [(1, 32, 3), (32, 32, 3), (32, 64, 3), (64, 64, 3), (64, 6, 3)]
    heads = lambda fan_in: 2 * (fan_in * 40 + 40)  # noqa: E731  (mean and log-variance)
    expected = {
        "q(z2|x)": sum(_gated_conv_count(*c) for c in q_z2_convs) + heads(294),
        "q(z1|x,z2)": sum(_gated_conv_count(*c) for c in q_z1_convs)
        + _gated_count(40, 294)
        + _gated_count(2 * 294, 300)
        + heads(300),
        "p(z1|z2)": _gated_count(40, 300) + _gated_count(300, 300) + heads(300),
        "p(x|z1,z2)": 2 * _gated_count(40, 300)
        + _gated_count(600, 784)
        + _gated_conv_count(1, 64, 3)
        + 3 * _gated_conv_count(64, 64, 3)
        + (64 + 1),
        "pseudo-inputs": 500 * 784,
    }
    model = _build(
        image_shape=[1, 28, 28],
        network="gated-conv",
        decoder_input="per-layer",
        hidden_dims=[300, 300],
        latent_dim=40,
        latent_dim_top=40,
        prior="vamp",
        num_components=500,
    )
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    found = {
        "q(z2|x)": n(model.posterior.top),
        "q(z1|x,z2)": n(model.posterior.bottom),
        "p(z1|z2)": n(model.conditional_prior),
        "p(x|z1,z2)": n(model.likelihood),
        "pseudo-inputs": n(model.prior),  # it reads q(z2|x) without holding it
    }
    assert found == expected
    assert n(model) == sum(expected.values())  # nothing else, nothing counted twice


def test_gated_conv_hvae_learns_on_real_digits():
    """The gated convolutional HVAE is a whole model on 8x8 digits: particles broadcast through
    both convolutional stacks, 25 Adam steps lower its loss (seed 0), and its ELBO stays below
    the importance-sampled log-likelihood."""
    torch.manual_seed(0)
    model = _build(network="gated-conv", hidden_dims=[16, 12], decoder_input="per-layer")
    assert model.posterior.top.encoder.out_features == 6 * 2 * 2
    assert model.likelihood(torch.randn(6, 5, 7)).batch_shape == (6, 5)
    x = pgm.load_dataset("digits-binary", "train").float_images()[:64]
    losses = _svi_steps(model, x, 25)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.0, losses
    est = evaluation.estimate(model, None, x[:16], num_particles=32)
    assert (est.elbo <= est.log_likelihood + 1e-4).all()
