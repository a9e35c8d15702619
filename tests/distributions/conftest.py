"""Fixtures for the distribution tests: every autoregressive architecture, small and randomised,
and the list of every distribution of ``pgm.distributions`` for the generic tests."""

from __future__ import annotations

import itertools

import pytest
import torch

from pgm.distributions import DiscretizedLogisticMixture, PixelCNN, PixelRNN

#: name -> (distribution family, make_network options)
ARCHITECTURES = {
    "pixelcnn": (PixelCNN, {"gated": False}),
    "gated-pixelcnn": (PixelCNN, {"gated": True}),
    "row-lstm": (PixelRNN, {"layer": "row-lstm"}),
    "diagonal-bilstm": (PixelRNN, {"layer": "diagonal-bilstm"}),
}


def make_distribution(
    architecture: str,
    event_shape: tuple[int, int, int],
    num_levels: int,
    output: str = "auto",
    context_shape: tuple[int, ...] | None = None,
    context: torch.Tensor | None = None,
    hidden_channels: int = 6,
    num_layers: int = 2,
    weight_scale: float = 0.5,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
):
    """A small network with random weights of scale ``weight_scale`` (far from uniform) in its
    distribution. Returns ``(distribution, network)``."""
    family, options = ARCHITECTURES[architecture]
    torch.manual_seed(seed)
    network = family.make_network(
        event_shape,
        num_levels,
        output=output,
        num_mixtures=2,
        hidden_channels=hidden_channels,
        num_layers=num_layers,
        first_kernel_size=3,
        context_shape=context_shape,
        **options,
    ).to(dtype)
    with torch.no_grad():
        for p in network.parameters():
            p.normal_(0.0, weight_scale)
    return family(network, event_shape, num_levels, context=context, output=output), network


def all_images(
    event_shape: tuple[int, int, int], num_levels: int, dtype=torch.float64
) -> torch.Tensor:
    """Every image of ``event_shape`` with values in ``{0..K-1}``: ``(K^D, C, H, W)``."""
    size = event_shape[0] * event_shape[1] * event_shape[2]
    values = list(itertools.product(range(num_levels), repeat=size))
    return torch.tensor(values, dtype=dtype).reshape(-1, *event_shape)


def _discretized_logistic_mixture():
    """Three logistics over K = 6 levels, far from uniform."""
    g = torch.Generator().manual_seed(0)
    d = DiscretizedLogisticMixture(
        torch.randn(3, generator=g, dtype=torch.float64),
        torch.randn(3, generator=g, dtype=torch.float64) * 1.5 + 2.5,
        torch.randn(3, generator=g, dtype=torch.float64) * 0.5,
        6,
    )
    return d, torch.arange(6, dtype=torch.float64)


def _autoregressive(architecture: str):
    def build():
        d, _ = make_distribution(architecture, (1, 2, 2), 2, weight_scale=0.3)
        return d, all_images((1, 2, 2), 2)

    return build


#: Every distribution of ``pgm.distributions`` with an enumerable support, as Pyro's
#: ``tests/distributions/conftest.py`` lists its own: name -> ``() -> (d, values)``, ``d`` with
#: batch shape ``()`` and ``values: (V, *event_shape)`` every value of its support.
DISTRIBUTIONS = {
    "discretized-logistic-mixture": _discretized_logistic_mixture,
    **{name: _autoregressive(name) for name in ARCHITECTURES},
}


@pytest.fixture(params=list(DISTRIBUTIONS))
def distribution(request):
    """``(d, values)`` of each entry of :data:`DISTRIBUTIONS`."""
    return DISTRIBUTIONS[request.param]()


@pytest.fixture(params=list(ARCHITECTURES))
def architecture(request) -> str:
    return request.param


@pytest.fixture
def make() -> callable:
    """:func:`make_distribution`, for tests (conftest modules are not imported by name)."""
    return make_distribution


@pytest.fixture
def images() -> callable:
    """:func:`all_images`."""
    return all_images
