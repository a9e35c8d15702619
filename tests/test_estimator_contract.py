"""The estimator scores exactly the pairs that keep the contract and refuses the rest in one line.

Fixture: z ~ N(0, 1), x | z ~ N(z, 1) on 8 points, so p(x) = N(0, 2) exactly, and the exact
posterior q(z | x) = N(x / 2, 1/2) makes every importance weight equal p(x): a pair that is
scored must give the exact value (to float32 round-off, K = 4), a pair that cannot be scored
must raise ``ContractError`` (a ``PgmError``: exit 2 in the CLI) naming what it breaks.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine

import evaluation
from pgm.errors import ContractError, PgmError

X = torch.tensor([-2.0, -1.2, -0.5, 0.0, 0.4, 1.1, 1.9, 3.0])
EXACT = dist.Normal(0.0, math.sqrt(2.0)).log_prob(X)
HALF = math.sqrt(0.5)


def model(x):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(z, 1.0), obs=x)


def guide(x):
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(x / 2, HALF))


def guide_with_auxiliary(x):
    with pyro.plate("data", x.shape[0]):
        pyro.sample("u", dist.Normal(0.0, 1.0))
        pyro.sample("z", dist.Normal(x / 2, HALF))


def model_two_latents(x):
    with pyro.plate("data", x.shape[0]):
        z1 = pyro.sample("z1", dist.Normal(0.0, 1.0))
        z2 = pyro.sample("z2", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(z1 + z2, 1.0), obs=x)


def guide_z1_only(x):
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z1", dist.Normal(x / 3, 1.0))


def _plated(**plate_kwargs):
    """The fixture pair in ``pyro.plate("data", size, subsample=..., subsample_size=...)``."""
    size = plate_kwargs.pop("size", None)

    def m(x):
        with pyro.plate("data", size or x.shape[0], **plate_kwargs) as idx:
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("x", dist.Normal(z, 1.0), obs=x[idx] if size is None else x)

    def g(x):
        with pyro.plate("data", size or x.shape[0], **plate_kwargs) as idx:
            xb = x[idx] if size is None else x
            pyro.sample("z", dist.Normal(xb / 2, HALF))

    return m, g


def model_global_latent(x):
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with pyro.plate("data", x.shape[0]):
        pyro.sample("x", dist.Normal(mu, 1.0), obs=x)


def guide_global_latent(x):
    pyro.sample("mu", dist.Normal(0.0, 1.0))


def guide_observing(x):
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(x / 2, HALF))
        pyro.sample("x", dist.Normal(0.0, 1.0), obs=x)


SUB_FULL = _plated(size=60000, subsample=torch.arange(8))
SUB_N = _plated(subsample_size=8)
SUB_1 = _plated(subsample_size=1)
SUB_3 = _plated(subsample_size=3)
SUB_RANDOM = _plated(size=60000, subsample=torch.arange(8) + 100)

# (id, model, guide, expected: None = the exact value, else a fragment of the refusal)
CASES = [
    ("keeps the contract", model, guide, None),
    (
        "guide=None with a latent site",
        model,
        None,
        "found none (guide=None is only for a fully observed",
    ),
    (
        "guide samples a site the model lacks",
        model,
        guide_with_auxiliary,
        "site(s) ['u'] that the model does not have",
    ),
    ("guide covers z1 but not z2", model_two_latents, guide_z1_only, "it does not sample ['z2']"),
    ("plate 60000, subsample=arange(8)", *SUB_FULL, None),
    ("plate N, subsample_size=N", *SUB_N, None),
    ("subsample_size=1", *SUB_1, "found 1 subsampled indices ["),
    ("subsample_size=3", *SUB_3, "found 3 subsampled indices ["),
    (
        "subsample of other indices",
        *SUB_RANDOM,
        "found 8 subsampled indices [100, 101, 102, 103, ...] of 60000",
    ),
    ("poutine.scale(0.5) on the model", poutine.scale(model, scale=0.5), guide, "scaled by 0.5"),
    ("poutine.scale(2) on the guide", model, poutine.scale(guide, scale=2.0), "scaled by 2.0"),
    (
        "latent outside the data plate",
        model_global_latent,
        guide_global_latent,
        "found it outside it",
    ),
    ("guide observes a site", model, guide_observing, "found observed site(s) ['x'] in the guide"),
]


@pytest.mark.parametrize("name, m, g, expected", CASES, ids=[c[0] for c in CASES])
def test_each_pair_is_scored_exactly_or_refused_in_one_line(name, m, g, expected):
    pyro.set_rng_seed(0)
    if expected is None:
        ll = evaluation.log_likelihood(m, g, X, num_particles=4)
        assert ll.shape == X.shape
        torch.testing.assert_close(ll, EXACT, atol=1e-5, rtol=1e-5)
        return
    with pytest.raises(ContractError) as err:
        evaluation.log_likelihood(m, g, X, num_particles=4)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message  # one line
    assert isinstance(err.value, PgmError) and isinstance(err.value, ValueError)


def test_the_contract_is_checked_once_per_call_not_per_chunk():
    calls = []

    def counting_guide(x):
        calls.append(x.shape)
        guide(x)

    from pgm import contract

    checks = []
    original = contract.check_latent_sites

    def spy(*args, **kwargs):
        checks.append(1)
        return original(*args, **kwargs)

    contract.check_latent_sites = spy
    try:
        evaluation.log_likelihood(
            model, counting_guide, X, num_particles=40, batch_size=4, max_elements=8
        )
    finally:
        contract.check_latent_sites = original
    assert len(checks) == 1  # one check, though 2 batches x 20 chunks of 2 particles ran
    # the probe's trace, the particle-dimension probe (two particles together, then each alone),
    # and the 2 x 20 chunks
    assert len(calls) == 1 + 3 + 2 * 20


def test_a_pair_giving_the_data_no_probability_is_not_called_mixed():
    """log p(x, z) = -inf for every particle, with particles and alone: the same infinity,
    not particles mixed with datapoints (weights giving the data no probability were told
    their model code broke the particle-dimension rule)."""
    from pgm.contract import check_particles

    def impossible(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("x", dist.Uniform(z + 100.0, z + 101.0, validate_args=False), obs=x)

    with pyro.validation_enabled(False):
        check_particles(impossible, guide, X, nesting=1)  # no ContractError
        with pytest.raises(ContractError, match="particles and datapoints are mixed"):
            check_particles(_mixing, guide, X, nesting=1)  # the rule still bites


def _mixing(x):
    """Reshapes its latent with x.shape[0]: particles mixed with datapoints."""
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(z.reshape(-1)[: x.shape[0]], 1.0), obs=x)
