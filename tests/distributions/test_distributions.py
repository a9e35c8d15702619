"""Generic tests over every distribution of ``pgm.distributions`` (the fixture list
``DISTRIBUTIONS`` of conftest.py), as Pyro tests its own: normalisation, samples against
``log_prob`` (Pyro's goodness-of-fit test), support, shapes and ``expand``, values outside the
support refused."""

from __future__ import annotations

import pytest
import torch
from goodness_of_fit import discrete_goodness_of_fit
from torch.distributions import constraints


def test_probabilities_of_the_support_sum_to_one(distribution):
    d, values = distribution
    log_p = d.log_prob(values)
    assert log_p.shape == values.shape[: values.dim() - len(d.event_shape)]
    torch.testing.assert_close(log_p.logsumexp(0).exp(), torch.ones((), dtype=log_p.dtype))


def test_samples_follow_log_prob(distribution):
    """Pyro's multinomial goodness of fit, 4000 draws, seed 0, level 1e-3."""
    d, values = distribution
    torch.manual_seed(0)
    samples = d.sample((4000,))
    assert discrete_goodness_of_fit(samples, values, d.log_prob(values).exp()) > 1e-3


def test_support_is_declared_and_holds_the_samples(distribution):
    d, values = distribution
    support = type(d).support
    assert isinstance(support, constraints._DependentProperty)  # a property like Pyro's own
    assert support.is_discrete and support.event_dim == len(d.event_shape)
    assert d.support.check(d.sample((50,))).all() and d.support.check(values).all()


def test_shapes_and_expand(distribution):
    d, values = distribution
    event = tuple(d.event_shape)
    assert d.batch_shape == () and d.sample((2, 3)).shape == (2, 3, *event)
    e = d.expand((4, 2))
    assert type(e) is type(d) and e.batch_shape == (4, 2) and e.event_shape == d.event_shape
    assert e.sample().shape == (4, 2, *event)
    value = values[1]
    assert e.log_prob(value).shape == (4, 2)
    torch.testing.assert_close(e.log_prob(value), d.log_prob(value).expand(4, 2))


def test_values_outside_the_support_are_refused(distribution):
    d, values = distribution
    bad = values[0].clone().reshape(-1)
    bad[0] = values.max() + 1  # one level too many
    with pytest.raises(ValueError, match="support"):  # the message names the support
        d.log_prob(bad.reshape(values[0].shape))
