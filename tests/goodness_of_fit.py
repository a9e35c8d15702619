"""Goodness of fit of a discrete distribution's samples to its enumerated probabilities, through
Pyro's own test (``pyro.distributions.testing.gof``), shared by the distribution tests."""

from __future__ import annotations

from unittest import mock

import scipy.stats
import torch
from pyro.distributions.testing import gof

__all__ = ["discrete_goodness_of_fit"]


def discrete_goodness_of_fit(
    samples: torch.Tensor, values: torch.Tensor, probs: torch.Tensor
) -> float:
    """The p-value of Pyro's multinomial (Pearson) test of ``samples: (S, *event)`` against the
    probabilities ``probs: (V,)`` of the values ``values: (V, *event)``.

    Values too rare to test (``S p (1 - p) <= 1``, where Pyro refuses) are left out and the test
    is truncated to the rest (``total_count = S``), as Pyro's distribution tests do.

    Pyro's statistic is turned into a p-value by SciPy's chi-square survival function: Pyro
    1.9's own ``chi2sf`` loses all precision for large statistics (0.9999 at chi^2 = 300 with 15
    degrees of freedom, where the answer is 6e-55), which would let a wrong sampler pass."""
    flat = samples.reshape(samples.shape[0], -1)
    match = (flat[:, None, :] == values.reshape(values.shape[0], -1).to(flat)[None]).all(-1)
    assert match.sum(1).eq(1).all(), "a sample outside the enumerated values"
    counts = match.sum(0).double()
    probs = probs.detach().double()
    n = samples.shape[0]
    keep = n * probs * (1 - probs) > 1
    total = None if keep.all() else n
    with mock.patch.object(gof, "chi2sf", lambda x, k: float(scipy.stats.chi2.sf(x, k))):
        return gof.multinomial_goodness_of_fit(probs[keep], counts[keep], total_count=total)
