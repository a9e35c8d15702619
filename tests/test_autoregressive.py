"""The autoregressive models as Pyro programs: fully observed models, the PixelCNN likelihood,
the PixelVAE, and image completion."""

from __future__ import annotations

import itertools

import pyro
import pytest
import torch
from goodness_of_fit import discrete_goodness_of_fit
from pyro import poutine

import pgm
from pgm.autoregressive import FullyObservedModel, PixelCNNLikelihood
from pgm.completion import complete, observed_mask
from pgm.data import load_dataset
from pgm.distributions import PixelCNN, PixelRNN

FULLY_OBSERVED = ["pixelcnn", "gated-pixelcnn", "row-lstm", "diagonal-bilstm"]


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    """64 real binarised 8×8 digits, ``(64, 1, 8, 8)`` floats in {0, 1}."""
    data = load_dataset("digits-binary", "train")
    assert data.num_levels == 2 and data.image_shape == (1, 8, 8)
    return data.float_images()[:64]


def _build(name: str, **overrides) -> pgm.GenerativeModel:
    return pgm.build({"model": name, "image_shape": [1, 8, 8], "num_levels": 2, **overrides})


@pytest.mark.parametrize("name", FULLY_OBSERVED + ["pixelvae"])
def test_model_trains_on_real_digits(name, digits):
    torch.manual_seed(0)
    model = _build(name)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    elbo = pyro.infer.Trace_ELBO()
    losses = []
    for _ in range(12):
        loss = elbo.differentiable_loss(model.model, model.guide, digits) / len(digits)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first - 2.0, losses  # nats per image
    samples = model.sample(3)
    assert samples.shape == (3, 1, 8, 8) and ((samples == 0) | (samples == 1)).all()


@pytest.mark.parametrize("name", FULLY_OBSERVED)
def test_fully_observed_model_keeps_the_contract(name, digits):
    model = _build(name, hidden_channels=8, num_layers=2)
    assert isinstance(model, FullyObservedModel) and not model.has_latents
    x = digits[:5]
    trace = poutine.trace(model.model).get_trace(x)
    trace.compute_log_prob()
    assert trace.observation_nodes == ["x"]
    assert [n for n in trace.stochastic_nodes if n != "data"] == []  # "data": the plate's own node
    frames = trace.nodes["x"]["cond_indep_stack"]
    assert [(f.name, f.dim) for f in frames] == [("data", -1)]
    torch.testing.assert_close(trace.nodes["x"]["log_prob"], model.log_prob(x))
    guide_trace = poutine.trace(model.guide).get_trace(x)
    assert guide_trace.stochastic_nodes == [] and guide_trace.observation_nodes == []  # empty guide
    # vectorised particles add a leading dim to the plate: same (exact) loss
    plain = pyro.infer.Trace_ELBO().differentiable_loss(model.model, model.guide, x)
    vectorised = pyro.infer.Trace_ELBO(
        num_particles=3, vectorize_particles=True
    ).differentiable_loss(model.model, model.guide, x)
    torch.testing.assert_close(plain, vectorised)


@pytest.mark.parametrize("name", FULLY_OBSERVED)
def test_model_samples_cached_and_naive_alike(name):
    model = _build(name, hidden_channels=8, num_layers=2)
    torch.manual_seed(5)
    fast = model.sample(4)
    torch.manual_seed(5)
    assert torch.equal(fast, model.sample(4, cached=False))


def test_output_follows_the_likelihood_key():
    model = _build("gated-pixelcnn", likelihood="discretized-logistic", num_mixtures=3)
    assert model.output == "logistic" and model.network.out_channels == 9
    grey = pgm.build({"model": "row-lstm", "image_shape": [1, 8, 8], "num_levels": 17})
    assert grey.output == "categorical" and grey.network.out_channels == 17
    assert isinstance(grey.distribution(), PixelRNN)
    assert isinstance(_build("pixelcnn").distribution(), PixelCNN)


def test_config_errors_name_the_key():
    with pytest.raises(
        ValueError, match=r"image_shape: 'pixelcnn' expects \[C, H, W\]; found \[64\]"
    ):
        pgm.build({"model": "pixelcnn", "image_shape": [64], "num_levels": 2})
    with pytest.raises(ValueError, match="num_levels: 'row-lstm' expects discrete images"):
        pgm.build({"model": "row-lstm", "image_shape": [1, 8, 8], "num_levels": 0})
    with pytest.raises(ValueError, match="likelihood: autoregressive models take one of"):
        pgm.build(
            {
                "model": "gated-pixelcnn",
                "image_shape": [1, 8, 8],
                "num_levels": 2,
                "likelihood": "normal",
            }
        )


def test_pixelcnn_likelihood_batches_over_particles():
    cfg = pgm.resolve_model_config(
        {
            "model": "pixelvae",
            "image_shape": [1, 8, 8],
            "num_levels": 2,
            "hidden_channels": 8,
            "num_layers": 2,
        }
    )
    likelihood = pgm.LIKELIHOODS["pixelcnn"](cfg)
    assert isinstance(likelihood, PixelCNNLikelihood)
    z = torch.randn(3, 5, cfg["latent_dim"])  # (particles, data, L)
    d = likelihood(z)
    assert d.batch_shape == (3, 5) and d.event_shape == (1, 8, 8)
    x = d.sample()
    assert x.shape == (3, 5, 1, 8, 8)
    assert d.log_prob(x[0]).shape == (3, 5)
    # z changes the distribution
    assert (d.log_prob(x[0])[0] - d.log_prob(x[0])[1]).abs().max() > 0


def test_pixelvae_is_a_vae_with_vectorised_particles(digits):
    model = _build("pixelvae", hidden_channels=8, num_layers=2, prior="mixture")
    assert model.has_latents and isinstance(model.likelihood, PixelCNNLikelihood)
    loss = pyro.infer.Trace_ELBO(num_particles=4, vectorize_particles=True).differentiable_loss(
        model.model, model.guide, digits[:6]
    )
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.likelihood.network.parameters())


# --- completion ------------------------------------------------------------------------------


def test_observed_mask_kinds():
    top = observed_mask("top-half", (3, 4, 6))
    assert top.shape == (3, 4, 6) and top.dtype == torch.bool
    assert top[:, :2].all() and not top[:, 2:].any()
    assert observed_mask("left-half", (1, 4, 6))[0, :, :3].all()
    centre = observed_mask("center", (1, 8, 8))
    assert not centre[0, 2:6, 2:6].any() and centre.sum() == 64 - 16
    with pytest.raises(ValueError, match="kind: expected one of"):
        observed_mask("middle", (1, 4, 4))


@pytest.mark.parametrize("name", ["gated-pixelcnn", "row-lstm"])
def test_completion_keeps_observed_pixels(name, digits):
    model = _build(name, hidden_channels=8, num_layers=2)
    mask = observed_mask("top-half", (1, 8, 8))
    torch.manual_seed(0)
    completed = complete(model, digits[:4], mask)
    assert completed.shape == (4, 1, 8, 8)
    assert torch.equal(completed[:, :, :4], digits[:4, :, :4])
    torch.manual_seed(0)
    assert torch.equal(completed, complete(model, digits[:4], mask, cached=False))


def test_completion_samples_the_exact_conditional():
    """2×2 binary images with the top row observed: the completed bottom rows follow
    p(bottom | top) from enumeration (Pyro's goodness of fit, 3000 draws, seed 0, level 1e-3)."""
    model = pgm.build(
        {
            "model": "gated-pixelcnn",
            "image_shape": [1, 2, 2],
            "num_levels": 2,
            "hidden_channels": 8,
            "num_layers": 2,
        }
    )
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.4)
    every = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4))).reshape(16, 1, 2, 2)
    top = torch.tensor([1.0, 0.0])
    given = every[(every[:, 0, 0] == top).all(-1)]  # the 4 images with that top row
    conditional = model.log_prob(given).softmax(0)
    x = top.reshape(1, 1, 1, 2).expand(3000, 1, 2, 2).clone()
    x[:, :, 1] = 0.0
    completed = complete(model, x, observed_mask("top-half", (1, 2, 2)))
    assert discrete_goodness_of_fit(completed, given, conditional) > 1e-3


def test_completion_refuses_models_without_an_autoregressive_distribution(digits):
    vae = pgm.build({"model": "vae", "image_shape": [1, 8, 8], "num_levels": 2})
    with pytest.raises(TypeError, match="model: expected a fully observed autoregressive model"):
        complete(vae, digits[:2], observed_mask("top-half", (1, 8, 8)))
    model = _build("pixelcnn", hidden_channels=8, num_layers=1)
    with pytest.raises(ValueError, match="observed_mask: expected a shape broadcastable"):
        complete(model, digits[:2], torch.ones(3, 8, 8, dtype=torch.bool))


@pytest.mark.parametrize("name", FULLY_OBSERVED)
def test_state_dict_round_trip_keeps_the_density(name, digits):
    model = _build(name, hidden_channels=8, num_layers=2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    fresh = _build(name, hidden_channels=8, num_layers=2)
    assert not torch.equal(fresh.log_prob(digits[:4]), model.log_prob(digits[:4]))
    fresh.load_state_dict(model.state_dict())
    torch.testing.assert_close(fresh.log_prob(digits[:4]), model.log_prob(digits[:4]))
    assert any(key.endswith(".mask") for key in model.state_dict())  # masks travel as buffers
