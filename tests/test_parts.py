"""The written interfaces of the parts (pgm.parts): factories take the config alone, a part that
breaks its protocol is refused in one line when built, the VampPrior is wired to the guide's
declared Gaussian without owning its weights, and E[z | x] is one function."""

from __future__ import annotations

import runpy
import uuid
from pathlib import Path

import pyro.distributions as dist
import pytest
import torch
from torch import nn

import pgm
from pgm.errors import PgmTypeError
from pgm.parts import (
    MEAN_DRAWS,
    AutoregressiveImage,
    GaussianGuide,
    LikelihoodWithMean,
    Prior,
    PriorNeedsGuide,
    mean_of,
    variance_of,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BASE = {"image_shape": [1, 8, 8], "num_levels": 2, "latent_dim": 3, "hidden_dims": [16]}


@pytest.fixture
def register():
    """Register a factory under a fresh name for one test; taken back afterwards."""
    added = []

    def _register(registry, factory):
        name = f"t{uuid.uuid4().hex[:8]}"
        registry.register(name)(factory)
        added.append((registry, name))
        return name

    yield _register
    for registry, name in added:
        registry.unregister(name)


def test_built_in_parts_keep_their_protocols():
    vae = pgm.build({**BASE, "prior": "vamp", "guide": "iaf"})
    assert isinstance(vae.prior, PriorNeedsGuide) and isinstance(vae.posterior, GaussianGuide)
    assert isinstance(vae.likelihood, LikelihoodWithMean)
    pixel = pgm.build({**BASE, "model": "pixelcnn", "num_layers": 1, "hidden_channels": 4})
    assert isinstance(pixel.distribution(), AutoregressiveImage)
    assert not isinstance(vae.likelihood(torch.zeros(2, 3)), AutoregressiveImage)


@pytest.mark.parametrize("model", ["vae", "hvae"])
def test_vamp_prior_is_the_guides_gaussian_and_owns_none_of_its_weights(model):
    torch.manual_seed(0)
    vae = pgm.build({**BASE, "model": model, "prior": "vamp", "guide": "iaf", "num_components": 4})
    guide = vae.posterior.top if model == "hvae" else vae.posterior
    u = torch.sigmoid(vae.prior.pseudo_inputs)
    q = guide.gaussian(u)
    mixture = vae.prior()
    torch.testing.assert_close(mixture.loc, q.mean)
    torch.testing.assert_close(mixture.scale, q.stddev)
    # the guide's weights are saved once, under the model's guide; the prior holds only its own
    assert [k for k in vae.state_dict() if k.startswith("prior.")] == ["prior.pseudo_inputs"]
    assert not any(p is q for p in vae.prior.parameters() for q in guide.parameters())


def test_old_prior_factory_signature_is_refused_in_one_line(register):
    name = register(pgm.PRIORS, lambda cfg, guide: pgm.priors.StandardNormalPrior(3))
    with pytest.raises(
        PgmTypeError,
        match=rf"^prior '{name}': expected a factory taking the "
        r"config alone, f\(cfg\) -> Prior; found .*\(cfg, guide\).*attach\(guide\)",
    ):
        pgm.build({**BASE, "prior": name})


def test_a_part_that_is_not_a_module_is_refused_in_one_line(register):
    name = register(pgm.GUIDES, lambda cfg: lambda x: dist.Normal(0.0, 1.0))
    with pytest.raises(
        PgmTypeError,
        match=rf"^guide '{name}': expected an nn.Module keeping the "
        r"Guide protocol \(pgm.parts\); found function$",
    ):
        pgm.build({**BASE, "guide": name})


def test_a_module_without_forward_is_refused(register):
    name = register(pgm.LIKELIHOODS, lambda cfg: nn.Module())
    with pytest.raises(
        PgmTypeError,
        match=rf"^likelihood '{name}': expected an nn.Module with "
        r"forward\(\) keeping the Likelihood protocol",
    ):
        pgm.build({**BASE, "likelihood": name})


class _TensorPrior(nn.Module):
    def forward(self):
        return torch.zeros(3)


class _WidePrior(nn.Module):
    def forward(self):
        return dist.Normal(torch.zeros(5), 1.0).to_event(1)


@pytest.mark.parametrize(
    "cls,found",
    [(_TensorPrior, "found Tensor"), (_WidePrior, r"found batch \(\), event \(5,\)")],
)
def test_a_prior_over_the_wrong_thing_is_refused_when_built(register, cls, found):
    name = register(pgm.PRIORS, lambda cfg: cls())
    with pytest.raises(PgmTypeError, match=rf"^prior '{name}': expected .*; {found}"):
        pgm.build({**BASE, "prior": name})


class _PlainGuide(nn.Module):
    """A guide with no diagonal-Gaussian stage (no gaussian(x))."""

    def __init__(self):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(3))

    def forward(self, x):
        return dist.Normal(self.loc.expand(x.shape[0], 3), 1.0).to_event(1)


def test_vamp_prior_refuses_a_guide_without_a_gaussian_in_one_line(register):
    name = register(pgm.GUIDES, lambda cfg: _PlainGuide())
    assert isinstance(pgm.build({**BASE, "guide": name}).posterior, _PlainGuide)  # fine alone
    with pytest.raises(PgmTypeError, match=r"^prior 'vamp': expected a guide with gaussian\(x\)"):
        pgm.build({**BASE, "guide": name, "prior": "vamp"})


class _OldGuide(_PlainGuide):
    def base(self, x):  # pgm 0.1's name for gaussian(x)
        return self(x)


def test_vamp_prior_says_a_guides_old_base_method_is_now_gaussian(register):
    name = register(pgm.GUIDES, lambda cfg: _OldGuide())
    with pytest.raises(
        PgmTypeError,
        match=r"found _OldGuide without it \(pgm 0.1's base\(x\) is now gaussian\(x\)\)$",
    ):
        pgm.build({**BASE, "guide": name, "prior": "vamp"})


def test_a_plug_in_prior_that_needs_the_guide_is_attached_by_the_model(register):
    class Attached(nn.Module):
        def attach(self, guide):
            self.guide_name = type(guide).__name__

        def forward(self):
            return dist.Normal(torch.zeros(3), 1.0).to_event(1)

    name = register(pgm.PRIORS, lambda cfg: Attached())
    vae = pgm.build({**BASE, "prior": name})
    assert vae.prior.guide_name == "DiagonalNormalGuide"
    assert vae.describe().startswith("Attached, diagonal-Gaussian guide")  # describe() optional
    hvae = pgm.build({**BASE, "model": "hvae", "prior": name, "guide": "iaf"})
    assert hvae.prior.guide_name == "IAFGuide"  # the guide over z2, the prior's variable


def test_mean_of_is_closed_form_where_there_is_one_and_monte_carlo_otherwise():
    normal = dist.Normal(torch.tensor([1.0, -2.0]), torch.tensor([0.5, 2.0])).to_event(1)
    assert torch.equal(mean_of(normal), normal.mean)
    assert torch.equal(variance_of(normal), normal.variance)
    # a flow: no closed form; 1000 draws of N(0, 1) pushed through exp (mean e^0.5, var e^2 - e)
    flow = dist.TransformedDistribution(
        dist.Normal(torch.zeros(4), 1.0), [dist.transforms.ExpTransform()]
    )
    torch.manual_seed(0)
    m, v = mean_of(flow), variance_of(flow)
    assert m.shape == v.shape == (4,)
    # the MC standard error of the mean is sqrt((e^2 - e) / 1000) ~ 0.068; 5 of them, seed 0
    assert (m - torch.e**0.5).abs().max() < 5 * ((torch.e**2 - torch.e) / MEAN_DRAWS) ** 0.5


def test_encode_is_mean_of_the_guide_for_every_caller():
    """VAE.encode, the diagnostics' posterior mean (active units) and the HVAE's code agree:
    one E[z | x], with the same draws under one seed for a flow guide."""
    from evaluation.diagnostics import posterior_mean

    x = torch.randint(0, 2, (5, 1, 8, 8)).float()
    for model in ("vae", "hvae"):
        torch.manual_seed(0)
        vae = pgm.build({**BASE, "model": model, "guide": "iaf"})
        torch.manual_seed(1)
        codes = vae.encode(x)
        torch.manual_seed(1)
        assert torch.equal(posterior_mean(vae, x), codes)


def test_monte_carlo_mean_noise_stays_a_tenth_of_the_activity_threshold():
    """A flow guide's E[z | x] over MEAN_DRAWS draws: its noise across images (half the variance
    of the difference of two independent estimates, 200 images, seed 1) stays under 0.001, a
    tenth of the 0.01 active-unit threshold; 64 draws (the old count) are several times noisier."""
    torch.manual_seed(0)
    vae = pgm.build({**BASE, "guide": "iaf"})
    x = torch.randint(0, 2, (200, 1, 8, 8)).float()
    with torch.no_grad():
        q = vae.posterior(x)
        torch.manual_seed(1)
        noise = {s: (mean_of(q, s) - mean_of(q, s)).var(0) / 2 for s in (MEAN_DRAWS, 64)}
    assert noise[MEAN_DRAWS].max() < 1e-3
    assert (noise[64] > 3 * noise[MEAN_DRAWS]).all()


def test_example_parts_plug_in_and_train_a_step(register):
    example = runpy.run_path(str(EXAMPLES / "vae_parts.py"), run_name="vae_parts_example")
    try:
        vae = pgm.build({**BASE, "num_levels": 17, "prior": "laplace", "likelihood": "binomial"})
        assert isinstance(vae.prior, Prior) and isinstance(vae.likelihood, LikelihoodWithMean)
        x = torch.randint(0, 17, (4, 1, 8, 8)).float()
        loss = pyro_loss(vae, x)
        loss.backward()
        assert all(p.grad is not None for p in vae.parameters())
        assert vae.reconstruct(x).shape == x.shape
        assert example["laplace"] is pgm.PRIORS["laplace"]
    finally:
        pgm.PRIORS.unregister("laplace")
        pgm.LIKELIHOODS.unregister("binomial")


def pyro_loss(vae, x):
    from pyro.infer import Trace_ELBO

    return Trace_ELBO().differentiable_loss(vae.model, vae.guide, x)


class _FlatLikelihood(nn.Module):
    """p(x | z) over flattened pixels: event (64,) where the data is (1, 8, 8)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 64)

    def forward(self, z):
        return dist.Bernoulli(logits=self.linear(z)).to_event(1)


class _UnbatchedGuide(_PlainGuide):
    def forward(self, x):
        return dist.Normal(self.loc, 1.0).to_event(1)  # one q for the whole batch


@pytest.mark.parametrize(
    "registry,key,cls,found",
    [
        ("LIKELIHOODS", "likelihood", _FlatLikelihood, r"found batch \(2,\), event \(64,\)$"),
        ("GUIDES", "guide", _UnbatchedGuide, r"found batch \(\), event \(3,\)$"),
    ],
)
def test_a_guide_or_likelihood_of_the_wrong_shapes_is_refused_when_built(
    register, registry, key, cls, found
):
    name = register(getattr(pgm, registry), lambda cfg: cls())
    with pytest.raises(PgmTypeError, match=rf"^{key} '{name}': expected forward\(\(2, .*; {found}"):
        pgm.build({**BASE, key: name})
