"""The variational autoencoder as a Pyro model/guide pair composed of a prior, a guide and a
likelihood."""

from __future__ import annotations

import pyro
import torch
from torch import nn
from torch.distributions import Distribution

from .generative_model import GenerativeModel
from .parts import AutoregressiveImage, LikelihoodWithMean, attach_guide, describe, mean_of

__all__ = ["VAE", "draw"]


def draw(d: Distribution, cached: bool = True) -> torch.Tensor:
    """One sample of a likelihood's distribution; ``cached`` chooses the sampler of an
    :class:`pgm.parts.AutoregressiveImage` (other distributions have one sampler)."""
    if isinstance(d, AutoregressiveImage):
        return d.sample(cached=cached)
    return d.sample()


class VAE(GenerativeModel):
    """A VAE (Kingma & Welling 2014; Rezende et al. 2014):

    .. math:: p(x, z) = p(z)\\, p(x \\mid z), \\qquad q_\\phi(z \\mid x) \\text{ amortised.}

    ``model`` samples ``z`` from the prior and observes ``x`` under the likelihood, inside
    ``pyro.plate("data", N)``; ``guide`` samples ``z`` from q_phi(z | x). Any prior works with
    any guide and any likelihood, because each is an ``nn.Module`` whose ``forward`` returns a
    distribution (the protocols of :mod:`pgm.parts`).

    :param prior: a :class:`~pgm.parts.Prior`, ``forward() -> p(z)``, event shape ``(L,)``; a
        :class:`~pgm.parts.PriorNeedsGuide` is attached to the guide here.
    :param guide: a :class:`~pgm.parts.Guide`, ``forward(x) -> q(z | x)``, batch ``(N,)``, event
        ``(L,)``; stored as ``self.posterior`` (``self.guide`` is the Pyro guide).
    :param likelihood: a :class:`~pgm.parts.Likelihood`, ``forward(z) -> p(x | z)``, batch
        ``z.shape[:-1]``, event ``image_shape``.
    """

    has_latents = True

    def __init__(self, prior: nn.Module, guide: nn.Module, likelihood: nn.Module, cfg: dict):
        super().__init__(cfg["image_shape"], cfg["num_levels"], cfg)
        self.latent_dim = int(cfg["latent_dim"])
        self.prior = prior
        self.posterior = guide
        self.likelihood = likelihood
        attach_guide(prior, self.prior_guide)

    @property
    def prior_guide(self) -> nn.Module:
        """The guide over the prior's z (the one a :class:`~pgm.parts.PriorNeedsGuide` is
        attached to)."""
        return self.posterior

    def model(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", self.prior())
            pyro.sample("x", self.likelihood(z), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", self.posterior(x))

    @torch.no_grad()
    def sample(self, n: int, cached: bool = True) -> torch.Tensor:
        """Ancestral sampling: z ~ p(z), x ~ p(x | z). Returns ``(n, *image_shape)``."""
        z = self.prior().sample((n,))
        return draw(self.likelihood(z), cached)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """E_q[z | x], ``(N, L)``: the learned features (:func:`pgm.parts.mean_of`: closed form,
        else Monte Carlo over ``MEAN_DRAWS`` draws)."""
        return mean_of(self.posterior(x))

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """E[x | z] (or a sample where the mean is intractable), ``(N, *image_shape)``."""
        if isinstance(self.likelihood, LikelihoodWithMean):
            return self.likelihood.mean(z)
        return draw(self.likelihood(z), cached=True)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @property
    def autoregressive_decoder(self) -> bool:
        """True when p(x | z) is itself autoregressive (PixelVAE): decoding z has no closed-form
        mean, so reconstructions and traversals are samples given z."""
        return not isinstance(self.likelihood, LikelihoodWithMean)

    def describe(self) -> str:
        return (
            f"{describe(self.prior)}, {describe(self.posterior)}, "
            f"{describe(self.likelihood)}, {self.latent_dim} latent dims"
        )
