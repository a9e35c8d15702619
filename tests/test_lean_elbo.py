"""The lean ELBOs equal Pyro's: same loss and same gradients under the same noise, for every
prior/guide/likelihood family, with KL warm-up and vectorised particles; pairs the lean pass
does not cover fall back to Pyro's implementation."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import infer
from torch import nn

import pgm
from inference.elbo import LeanTrace_ELBO, LeanTraceMeanField_ELBO, make_elbo
from inference.kl_warmup import KLWarmup

BASE = {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 2, "hidden_dim": 16, "latent_dim": 4}
PYRO = {"trace": infer.Trace_ELBO, "mean-field": infer.TraceMeanField_ELBO}


def _loss_and_grads(elbo, model, guide, params, x):
    torch.manual_seed(1)
    for p in params:
        p.grad = None
    loss = elbo.differentiable_loss(model, guide, x)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in params if p.grad is not None]


@pytest.mark.parametrize("name", ["trace", "mean-field"])
@pytest.mark.parametrize(
    "extra",
    [{}, {"prior": "vamp"}, {"guide": "iaf"}, {"prior": "flow"}, {"prior": "mixture"},
     {"num_levels": 4, "likelihood": "discretized-logistic"}],
    ids=["normal", "vamp", "iaf", "flow", "mixture", "logistic"],
)
@pytest.mark.parametrize("num_particles, beta", [(1, 1.0), (3, 1.0), (1, 0.3)])
def test_lean_elbo_matches_pyro(name, extra, num_particles, beta):
    torch.manual_seed(0)
    model = pgm.build({**BASE, **extra})
    levels = model.num_levels
    x = torch.randint(0, levels, (5, 1, 8, 8)).float()
    fn_model, fn_guide = model.model, model.guide
    if beta < 1:
        fn_model, fn_guide = KLWarmup(beta)(fn_model), KLWarmup(beta)(fn_guide)
    lean = make_elbo(name, num_particles, 1)
    assert isinstance(lean, LeanTrace_ELBO if name == "trace" else LeanTraceMeanField_ELBO)
    reference = PYRO[name](num_particles=num_particles, vectorize_particles=num_particles > 1, max_plate_nesting=1)
    params = list(model.parameters())
    lean.differentiable_loss(fn_model, fn_guide, x)  # the first, fully checked call
    assert lean.lean is True
    expected, expected_grads = _loss_and_grads(reference, fn_model, fn_guide, params, x)
    found, found_grads = _loss_and_grads(lean, fn_model, fn_guide, params, x)
    assert lean.lean is True  # the lean pass ran, it did not fall back
    assert torch.allclose(found, expected, rtol=1e-5, atol=1e-4)
    assert len(found_grads) == len(expected_grads)
    for a, b in zip(found_grads, expected_grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


class _DiscreteLatent(nn.Module):
    """A model with a Bernoulli latent: its guide is not reparameterised."""

    def __init__(self):
        super().__init__()
        self.logit = nn.Parameter(torch.zeros(()))

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Bernoulli(0.5))
            pyro.sample("x", dist.Normal(z, 1.0), obs=x)

    def guide(self, x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Bernoulli(logits=self.logit))


def test_a_score_function_guide_falls_back_to_pyro():
    pair = _DiscreteLatent()
    x = torch.randn(6)
    lean = make_elbo("trace", 1, 1)
    lean.differentiable_loss(pair.model, pair.guide, x)
    loss = lean.differentiable_loss(pair.model, pair.guide, x)
    assert lean.lean is False  # Pyro's surrogate (score-function term) from now on
    loss.backward()
    assert pair.logit.grad is not None and torch.isfinite(pair.logit.grad)


def test_nan_parameters_give_a_nan_loss_after_the_checked_call():
    # after the first call, per-step validation is off: a NaN parameter yields a NaN loss (which
    # the trainer's guard turns into NonFiniteLossError) instead of a ValueError mid-step
    model = pgm.build(BASE)
    x = torch.randint(0, 2, (4, 1, 8, 8)).float()
    lean = make_elbo("trace", 1, 1)
    lean.differentiable_loss(model.model, model.guide, x)
    with torch.no_grad():
        model.posterior.loc.bias.fill_(float("nan"))
    assert torch.isnan(lean.differentiable_loss(model.model, model.guide, x))
    assert pyro.infer.util.is_validation_enabled()  # restored afterwards
