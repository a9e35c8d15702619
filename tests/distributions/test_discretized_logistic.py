"""The discretized logistic mixture: normalisation, agreement with the CDF, shapes, samples."""

from __future__ import annotations

import pytest
import scipy.stats
import torch

from pgm.distributions import DiscretizedLogisticMixture


def _mixture(
    batch=(4, 3), m=5, k=7, loc_scale=4.0, log_scale_scale=2.0, dtype=torch.float64, seed=0
):
    g = torch.Generator().manual_seed(seed)
    shape = batch + (m,)
    return DiscretizedLogisticMixture(
        torch.randn(shape, generator=g, dtype=dtype),
        torch.randn(shape, generator=g, dtype=dtype) * loc_scale + (k - 1) / 2,
        torch.randn(shape, generator=g, dtype=dtype) * log_scale_scale,
        k,
    )


@pytest.mark.parametrize("k", [2, 3, 17, 256])
def test_levels_sum_to_one(k):
    d = _mixture(k=k)
    table = d.level_log_probs()
    assert table.shape == (4, 3, k)
    torch.testing.assert_close(table.logsumexp(-1).exp(), torch.ones(4, 3, dtype=torch.float64))


def test_extreme_parameters_stay_finite_and_normalised_in_float32():
    logits = torch.zeros(6, 2)
    locs = torch.tensor(
        [[-50.0, 300.0], [0.0, 255.0], [127.3, 127.3], [1e3, -1e3], [3.0, 3.0], [10.0, 11.0]]
    )
    log_scales = torch.tensor(
        [[-9.0, -9.0], [-9.0, 5.0], [-12.0, 8.0], [0.0, 0.0], [4.0, -4.0], [-1.0, 0.0]]
    )
    d = DiscretizedLogisticMixture(logits, locs, log_scales, 256)
    table = d.level_log_probs()
    assert torch.isfinite(table).all()
    torch.testing.assert_close(table.logsumexp(-1).exp(), torch.ones(6), atol=1e-4, rtol=0)
    x = torch.tensor([0.0, 255.0, 127.0, 255.0, 3.0, 10.0])
    logits.requires_grad_(True)
    DiscretizedLogisticMixture(logits, locs, log_scales, 256).log_prob(x).sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_log_prob_matches_logistic_cdf_differences():
    d = _mixture(batch=(10,), m=3, k=5)
    loc, scale = d.locs.numpy(), d.log_scales.exp().numpy()
    weights = torch.softmax(d.logit_weights, -1).numpy()
    for level in range(5):
        upper = 1.0 if level == 4 else scipy.stats.logistic.cdf(level + 0.5, loc, scale)
        lower = 0.0 if level == 0 else scipy.stats.logistic.cdf(level - 0.5, loc, scale)
        expected = (weights * (upper - lower)).sum(-1)
        got = d.log_prob(torch.full((10,), float(level), dtype=torch.float64)).exp()
        torch.testing.assert_close(got, torch.as_tensor(expected))


def test_shapes_expand_mean_and_enumerate():
    d = _mixture(batch=(3,))
    assert d.batch_shape == (3,) and d.event_shape == ()
    assert d.sample((2, 5)).shape == (2, 5, 3)
    e = d.expand((4, 3))
    assert e.batch_shape == (4, 3) and e.sample().shape == (4, 3)
    torch.testing.assert_close(
        e.log_prob(torch.ones(4, 3, dtype=torch.float64))[0],
        d.log_prob(torch.ones(3, dtype=torch.float64)),
    )
    levels = torch.arange(7, dtype=torch.float64)
    torch.testing.assert_close(d.mean, (d.level_log_probs().exp() * levels).sum(-1))
    assert d.enumerate_support().shape == (7, 3)
    assert (d.variance > 0).all()
    # broadcasting of the three parameters
    b = DiscretizedLogisticMixture(torch.zeros(1, 2), torch.zeros(5, 2), torch.zeros(2), 4)
    assert b.batch_shape == (5,)


@pytest.mark.parametrize("bad", [7.0, -1.0, 2.5])
def test_out_of_support_raises(bad):
    d = _mixture()
    value = torch.zeros(4, 3, dtype=torch.float64)
    value[2, 1] = bad
    with pytest.raises(ValueError, match="support"):
        d.log_prob(value)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_levels: expected an integer >= 2"):
        DiscretizedLogisticMixture(torch.zeros(2), torch.zeros(2), torch.zeros(2), 1)
    with pytest.raises(ValueError, match=r"locs: expected a tensor of shape \(\.\.\., M\)"):
        DiscretizedLogisticMixture(torch.zeros(2), torch.tensor(0.0), torch.zeros(2), 4)
    with pytest.raises(ValueError, match="log_scales"):
        DiscretizedLogisticMixture(
            torch.zeros(2), torch.zeros(2), torch.tensor([0.0, float("nan")]), 4, validate_args=True
        )
