"""Guides (:class:`pgm.parts.GaussianGuide`): amortised approximate posteriors q_phi(z | x),
``forward(x) -> distribution over z``, with their diagonal-Gaussian stage ``gaussian(x)``.

E_q[z | x] has no method here: :func:`pgm.parts.mean_of` gives it for any guide's distribution
(closed form for the diagonal Gaussian, Monte Carlo for a flow)."""

from __future__ import annotations

import pyro.distributions as dist
import pyro.distributions.transforms as T
import torch
from torch import nn

from . import gaussian_scales
from .build import encoder_centred, encoder_hidden_dims
from .keys import Key
from .nn.encoders import make_encoder
from .registry import GUIDES

__all__ = ["ClampedDiagonalNormalGuide", "DiagonalNormalGuide", "IAFGuide"]


class DiagonalNormalGuide(nn.Module):
    """q(z | x) = N(z; mu(x), diag sigma(x)^2), sampled by the reparameterisation
    z = mu(x) + sigma(x) · eps, eps ~ N(0, I) (Kingma & Welling 2014), so the ELBO's gradient
    flows through the sample.

    :param encoder: ``x: (N, *event_shape) -> (N, F)`` features (its last hidden layer, already
        activated); the heads ``loc`` and ``scale`` are linear maps F -> L on top of it.
    """

    def __init__(self, encoder: nn.Module, feature_dim: int, latent_dim: int):
        super().__init__()
        self.encoder = encoder
        self.loc = nn.Linear(feature_dim, latent_dim)
        self.scale = nn.Linear(feature_dim, latent_dim)

    def gaussian(self, x: torch.Tensor, features: torch.Tensor | None = None) -> dist.Distribution:
        """N(mu(x), diag sigma(x)^2), batch ``(N,)``, event ``(L,)`` (``features``: the encoder's
        output for ``x``, when the caller has it already)."""
        h = self.encoder(x) if features is None else features
        return dist.Normal(self.loc(h), self.stddev(self.scale(h))).to_event(1)

    def stddev(self, v: torch.Tensor) -> torch.Tensor:
        """sigma from the ``scale`` head's output v: softplus(v) + 1e-4."""
        return gaussian_scales.softplus(v)

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        return self.gaussian(x)

    def describe(self) -> str:
        return f"diagonal-Gaussian guide ({_network_name(self.encoder)} encoder)"


class IAFGuide(nn.Module):
    """A diagonal Gaussian pushed through inverse autoregressive flows conditioned on the
    encoder's features (Kingma et al. 2016): sampling and the density of the drawn sample are
    both one parallel pass; Pyro caches the pre-image, so no inverse is ever solved.
    """

    def __init__(
        self, encoder: nn.Module, feature_dim: int, latent_dim: int, num_flows: int, hidden_dim: int
    ):
        super().__init__()
        self.diagonal = DiagonalNormalGuide(encoder, feature_dim, latent_dim)
        self.flows = nn.ModuleList(
            T.conditional_affine_autoregressive(latent_dim, feature_dim, hidden_dims=[hidden_dim])
            for _ in range(num_flows)
        )
        # reverse the order between flows so every coordinate gets to depend on every other
        self.register_buffer("reverse", torch.arange(latent_dim - 1, -1, -1))

    def gaussian(self, x: torch.Tensor) -> dist.Distribution:
        """The flow's base, N(mu(x), diag sigma(x)^2) (what a VampPrior's components are)."""
        return self.diagonal.gaussian(x)

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        h = self.diagonal.encoder(x)
        transforms: list = []
        for i, flow in enumerate(self.flows):
            if i:
                transforms.append(T.Permute(self.reverse))
            transforms.append(flow.condition(h))
        return dist.TransformedDistribution(self.diagonal.gaussian(x, features=h), transforms)

    def describe(self) -> str:
        return f"IAF guide ({len(self.flows)} flows on a {self.diagonal.describe()})"


def _network_name(module: nn.Module) -> str:
    """``MLPEncoder`` -> ``MLP``, ``ConvEncoder`` -> ``conv``."""
    name = type(module).__name__
    return "MLP" if name.startswith("MLP") else "conv" if name.startswith("Conv") else name


def _encoder(cfg: dict) -> nn.Module:
    return make_encoder(
        cfg["network"],
        cfg["image_shape"],
        cfg["num_levels"],
        encoder_hidden_dims(cfg),
        activation=cfg.get("activation", "relu"),
        centred=encoder_centred(cfg),
    )


@GUIDES.register("diagonal-normal", "amortised diagonal Gaussian q(z|x), reparameterised")
def _diagonal_normal(cfg: dict) -> nn.Module:
    encoder = _encoder(cfg)
    return DiagonalNormalGuide(encoder, encoder.out_features, cfg["latent_dim"])


class ClampedDiagonalNormalGuide(DiagonalNormalGuide):
    """The diagonal Gaussian of the VampPrior authors' code (Tomczak & Welling 2018,
    github.com/jmtomczak/vae_vampprior): sigma(x)^2 = exp(hardtanh(v(x), -6, 2)), so standard
    deviations stay in [0.05, 2.7]. Under a VampPrior the prior's components are this guide at
    the pseudo-inputs, and cannot narrow below 0.05 either. The ``scale`` head is v(x), the
    log-variance before the clamp."""

    LOG_VARIANCE_RANGE = gaussian_scales.LOG_VARIANCE_RANGE

    def stddev(self, v: torch.Tensor) -> torch.Tensor:
        """sigma from the ``scale`` head's output v: exp(hardtanh(v, -6, 2) / 2)."""
        return gaussian_scales.clamped_log_variance(v)

    def describe(self) -> str:
        low, high = self.LOG_VARIANCE_RANGE
        return (
            f"diagonal-Gaussian guide, log-variance in [{low:g}, {high:g}] "
            f"({_network_name(self.encoder)} encoder)"
        )


@GUIDES.register(
    "clamped-diagonal-normal",
    "diagonal Gaussian q(z|x) with its log-variance clamped to [-6, 2] (the VampPrior code's)",
)
def _clamped_diagonal_normal(cfg: dict) -> nn.Module:
    encoder = _encoder(cfg)
    return ClampedDiagonalNormalGuide(encoder, encoder.out_features, cfg["latent_dim"])


@GUIDES.register(
    "iaf",
    "inverse autoregressive flow on the diagonal Gaussian (Kingma et al. 2016)",
    keys=[
        Key("num_flows", int, 2, low=1, help="IAF steps on the diagonal Gaussian"),
        # pgm's model key (its default kept): each step's MADE reads it, whatever the network
        Key("hidden_dim", int, 256, low=1, help="width of each IAF step's autoregressive network"),
    ],
)
def _iaf(cfg: dict) -> nn.Module:
    encoder = _encoder(cfg)
    return IAFGuide(
        encoder, encoder.out_features, cfg["latent_dim"], cfg["num_flows"], cfg["hidden_dim"]
    )
