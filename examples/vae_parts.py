"""A prior and a likelihood of your own, for pgm's VAE: each is an ``nn.Module`` whose
``forward`` returns a distribution (the protocols of ``pgm.parts``), registered with the
decorator the built-ins use, so any VAE config can name them next to the built-in guides:

    plugins = ["vae_parts.py"]
    prior = "laplace"
    likelihood = "binomial"

A factory takes the resolved config alone, ``factory(cfg) -> part``; pgm checks what it returns
when the model is built and refuses a part that does not keep its protocol in one line.
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

import pgm
from pgm.build import decoder_hidden_dims
from pgm.errors import PgmError
from pgm.nn.decoders import make_decoder


class LaplacePrior(nn.Module):
    """p(z) = prod_l Laplace(z_l; 0, b) with a learned scale b (``pgm.parts.Prior``):
    ``forward() -> distribution`` with batch shape ``()`` and event shape ``(L,)``."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.register_buffer("loc", torch.zeros(latent_dim))  # follows the model to its device
        self.raw_scale = nn.Parameter(torch.zeros(latent_dim))

    def forward(self) -> dist.Distribution:
        return dist.Laplace(self.loc, F.softplus(self.raw_scale) + 1e-3).to_event(1)

    def describe(self) -> str:  # optional: the model's description in reports
        return "learned Laplace prior"


class BinomialLikelihood(nn.Module):
    """p(x | z) = prod_i Binomial(x_i; K - 1, sigmoid(f(z)_i)) over the K grey levels
    (``pgm.parts.LikelihoodWithMean``): ``forward(z: (..., L))`` has batch shape ``z.shape[:-1]``
    and event shape ``image_shape``; ``mean(z)`` is E[x | z] in levels (reconstructions)."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.event_shape = tuple(cfg["image_shape"])
        self.total_count = cfg["num_levels"] - 1
        self.decoder = make_decoder(  # the config's network, as the built-in likelihoods use
            cfg["network"], cfg["latent_dim"], decoder_hidden_dims(cfg), self.event_shape, 1
        )

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        logits = self.decoder(z)[..., 0]  # (..., *event_shape)
        return dist.Binomial(self.total_count, logits=logits).to_event(len(self.event_shape))

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        return self(z).mean

    def describe(self) -> str:
        return "binomial likelihood"


@pgm.PRIORS.register("laplace", "Laplace(0, b) prior with a learned scale (examples/)")
def laplace(cfg: dict) -> LaplacePrior:
    return LaplacePrior(cfg["latent_dim"])


@pgm.LIKELIHOODS.register("binomial", "per-pixel Binomial over the K levels (examples/)")
def binomial(cfg: dict) -> BinomialLikelihood:
    if cfg["num_levels"] < 2:
        raise PgmError(
            f"likelihood 'binomial': expected num_levels >= 2; found {cfg['num_levels']}"
        )
    return BinomialLikelihood(cfg)
