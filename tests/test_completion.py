"""Issue 23, completion for every mask: sampling importance resampling (pgm.completion.
complete_sir) matches the exact conditional of a tiny PixelCNN, enumerated over all its images;
completions keep the observed pixels exactly."""

from __future__ import annotations

import itertools

import pytest
import torch

import pgm
from pgm.completion import complete, complete_sir, observed_mask


def _tiny_pixelcnn() -> pgm.GenerativeModel:
    torch.manual_seed(3)
    model = pgm.build(
        {"model": "pixelcnn", "image_shape": [1, 2, 2], "num_levels": 2, "hidden_channels": 8}
    )
    with torch.no_grad():  # sharper conditionals than at initialisation: the masks matter
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


def _frequencies(images: torch.Tensor) -> torch.Tensor:
    """Frequencies of the top row's 4 configurations (the missing pixels of bottom-half)."""
    code = (images[:, 0, 0, 0] * 2 + images[:, 0, 0, 1]).long()
    return torch.bincount(code, minlength=4).double() / len(code)


def test_sir_matches_the_exact_conditional_for_bottom_half():
    model = _tiny_pixelcnn()
    every = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4))).reshape(16, 1, 2, 2)
    with torch.no_grad():
        log_p = model.distribution().log_prob(every)
    x = torch.tensor([[[[0.0, 0.0], [1.0, 0.0]]]])  # bottom row observed: (1, 0)
    same = (every[:, 0, 1] == x[0, 0, 1]).all(-1)
    exact = torch.softmax(log_p[same].double(), 0)  # p(top row | bottom row), top row 00..11
    mask = observed_mask("bottom-half", (1, 2, 2))
    torch.manual_seed(0)
    naive = _frequencies(complete(model, x.repeat(1000, 1, 1, 1), mask))
    torch.manual_seed(0)
    draws, ess = complete_sir(model, x.repeat(300, 1, 1, 1), mask, 20, num_candidates=64)
    sir = _frequencies(draws.reshape(-1, 1, 2, 2))
    # the raster proposal alone is far from the conditional (the test can fail) ...
    assert (naive - exact).abs().sum() / 2 > 0.1
    # ... SIR is within 0.05 total variation (300 candidate sets of M = 64, 20 draws each, seed
    # 0: measured 0.012 against 0.25 for the proposal, ESS 50 of 64; SIR's bias is O(1/M))
    assert (sir - exact).abs().sum() / 2 < 0.05, (sir, exact)
    assert ((ess > 1) & (ess <= 64)).all()


@pytest.mark.parametrize("kind", ["bottom-half", "left-half", "center", "top-half"])
def test_completions_keep_the_observed_pixels_exactly(kind):
    torch.manual_seed(1)
    model = pgm.build(
        {"model": "pixelcnn", "image_shape": [1, 4, 4], "num_levels": 2, "hidden_channels": 8}
    )
    x = torch.randint(0, 2, (3, 1, 4, 4)).float()
    mask = observed_mask(kind, (1, 4, 4))
    draws, ess = complete_sir(model, x, mask, 5, num_candidates=8)
    assert draws.shape == (3, 5, 1, 4, 4)
    assert torch.equal(draws[:, :, mask], x[:, None].expand_as(draws)[:, :, mask])
    if kind == "top-half":  # every observed value comes first: all weights equal, exact
        assert torch.allclose(ess, torch.full((3,), 8.0))
