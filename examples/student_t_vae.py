"""A VAE written in plain Pyro, entered into pgm as a plug-in: a Student-t prior (heavier
tails than the usual N(0, I)), a Gaussian guide and a binomial likelihood over the K grey
levels. See examples/README.md; ``pgm train student_t_vae.toml --out RUN`` trains it.

Only two things here are pgm's: the ``@pgm.register_model`` decorator, which makes the name
usable in configs and on the command line, and the contract every pair keeps (one
``pyro.plate("data", N)`` at dim -1 holding every site, the data observed at ``"x"``, the
guide sampling exactly the model's latent sites, and tolerance of a leading particle
dimension that the estimator adds outside the data plate).
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch
from torch import nn

import pgm

__version__ = "0.1"


class StudentTVAE(nn.Module):
    """p(z) = prod_l StudentT(z_l; df, 0, 1),
    p(x | z) = prod_i Binomial(x_i; K - 1, sigmoid(f(z)_i)),
    q(z | x) = N(mu(x), diag sigma(x)^2).

    :param image_shape: ``(C, H, W)`` of the data.
    :param num_levels: K grey levels; ``x`` holds the levels ``{0, ..., K-1}`` as floats, which
        is what ``pgm.data`` gives (``float_images()``), not values in [0, 1].
    """

    def __init__(
        self,
        image_shape,
        num_levels: int,
        latent_dim: int = 16,
        hidden_dim: int = 256,
        df: float = 4.0,
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.total_count = num_levels - 1
        self.latent_dim = latent_dim
        self.df = float(df)
        d = math.prod(self.image_shape)
        self.encoder = nn.Sequential(
            nn.Linear(d, hidden_dim), nn.Softplus(), nn.Linear(hidden_dim, 2 * latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Softplus(), nn.Linear(hidden_dim, d)
        )
        self.register_buffer("zero", torch.zeros(latent_dim))  # follows the module to its device

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """``z: (..., L)`` -> per-pixel logits ``(..., C, H, W)``; ``...`` may hold particles."""
        return self.decoder(z).reshape(*z.shape[:-1], *self.image_shape)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.reshape(x.shape[0], -1) / self.total_count)  # levels -> [0, 1]
        loc, log_scale = h.chunk(2, -1)
        return loc, log_scale.clamp(-8, 4).exp()

    def model(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):
            prior = dist.StudentT(self.df, self.zero, torch.ones_like(self.zero)).to_event(1)
            z = pyro.sample(
                "z", prior
            )  # (N, L), or (K, N, L) inside the estimator's particle plate
            likelihood = dist.Binomial(self.total_count, logits=self.logits(z)).to_event(
                len(self.image_shape)
            )
            pyro.sample("x", likelihood, obs=x)

    def guide(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):
            loc, scale = self.posterior(x)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    # optional capabilities: with them the comparison adds reconstructions, traversals and the
    # linear probe of the codes; sampling needs nothing (pgm runs the model with x unobserved)
    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.total_count * torch.sigmoid(self.logits(z))


@pgm.register_model(
    "student-t-vae",
    "VAE with a Student-t prior and a binomial likelihood, in plain Pyro (examples/)",
    config={"df": 4.0},
)
def student_t_vae(cfg: dict) -> StudentTVAE:
    """``cfg``: the resolved config (image_shape, num_levels, latent_dim, hidden_dim, df)."""
    return StudentTVAE(
        cfg["image_shape"], cfg["num_levels"], cfg["latent_dim"], cfg["hidden_dim"], cfg["df"]
    )
