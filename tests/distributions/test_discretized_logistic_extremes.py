"""The discretized logistic at extreme scales: finite values and gradients for tiny
log-scales (clamped at -7, as PixelCNN++ does), and a mixture that still sums to one."""

from __future__ import annotations

import math

import pytest
import torch

from pgm.distributions.discretized_logistic import (
    DiscretizedLogisticMixture,
    discretized_logistic_log_prob,
)


@pytest.mark.parametrize("log_scale", [-100.0, -84.0, -30.0])
def test_discretized_logistic_is_finite_for_tiny_log_scales(log_scale):
    s = torch.tensor([log_scale], requires_grad=True)
    loc = torch.tensor([2.3], requires_grad=True)
    value = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]).unsqueeze(-1)
    lp = discretized_logistic_log_prob(value, loc, s, num_levels=5)
    assert torch.isfinite(lp).all()
    lp[2].sum().backward()  # the level holding the mass
    assert torch.isfinite(s.grad).all() and torch.isfinite(loc.grad).all()
    clamped = discretized_logistic_log_prob(value, loc.detach(), torch.tensor([-7.0]), num_levels=5)
    torch.testing.assert_close(lp.detach(), clamped)  # clamped at -7, as PixelCNN++ does
    assert abs(float(lp.detach()[2])) < 1e-6  # level 2 holds all the mass: log 1


def test_discretized_logistic_mixture_still_normalises_with_a_tiny_scale():
    d = DiscretizedLogisticMixture(
        torch.zeros(3, 2),
        torch.tensor([[0.2, 3.6]] * 3),
        torch.tensor([[-100.0, -1.0]] * 3),
        num_levels=5,
    )
    total = d.level_log_probs().exp().sum(-1)
    torch.testing.assert_close(total, torch.ones(3))
    assert math.isclose(
        float(d.log_prob(torch.zeros(3))[0].exp()),
        0.5
        + 0.5
        * float(
            discretized_logistic_log_prob(
                torch.tensor(0.0), torch.tensor(3.6), torch.tensor(-1.0), 5
            ).exp()
        ),
        rel_tol=1e-5,
    )
