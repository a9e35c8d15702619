"""Answers that would only look like results are refused or made safe: a divergent HMC
proposal is a rejection for a plain Pyro pair with validation on, and a pair that breaks the
particle-dimension rule is refused in one line by the probe that training and every estimator
run when a pair is first used."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer.util import is_validation_enabled

from evaluation.ais import ais
from evaluation.log_likelihood import estimate
from pgm.contract import PARTICLE_RULE, probe
from pgm.errors import ContractError

X = torch.tensor([[0.5, -1.0], [1.5, 0.0], [-0.3, 0.2], [2.0, 1.0]])


def _guide(x):
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))


def _exploding_model(x):
    # exp(exp(z)) overflows for large z: a long trajectory reaches inf, then NaN, which Pyro's
    # argument validation (on in every test) turns into a ValueError
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z.exp().exp() - 2.0, 1.0).to_event(1), obs=x)


def test_a_divergent_proposal_is_a_rejection_with_validation_on():
    assert is_validation_enabled()
    torch.manual_seed(0)
    # a fixed huge step (no pilots to shrink it): nearly every trajectory diverges
    result = ais(_exploding_model, _guide, X, 6, 3, step_size=50.0, adapt_chains=0)
    assert torch.isfinite(result.log_likelihood).all()
    assert (result.accept_rate < 0.5).all()  # the divergent proposals were rejected
    assert is_validation_enabled()  # restored afterwards


def _reshaping_model(x):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
        # breaks the rule: the particles' leading dim is folded into the data dim
        loc = z.reshape(x.shape[0], -1)[..., :2]
        pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)


def _mixing_model(x):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
        # breaks the rule silently: shapes fit, but every particle sees the first particle's z
        loc = z.reshape(-1, x.shape[0], 2)[0]
        pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)


@pytest.mark.parametrize("model", [_reshaping_model, _mixing_model])
def test_the_particle_probe_refuses_in_one_line(model):
    for run in (
        lambda: probe(model, _guide, X[:2]),  # what the Trainer calls at the start of training
        lambda: estimate(model, _guide, X, 10),
        lambda: ais(model, _guide, X, 3, 2),
    ):
        with pytest.raises(ContractError) as err:
            run()
        message = str(err.value)
        assert "\n" not in message and PARTICLE_RULE in message


def test_a_pair_keeping_the_rule_passes_the_probe():
    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z.reshape(*z.shape[:-1], 2), 1.0).to_event(1), obs=x)

    assert probe(model, _guide, X, check=True) == (1, True)
