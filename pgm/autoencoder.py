"""The deterministic autoencoder: the feature-learning baseline, with no density."""

from __future__ import annotations

import pyro
import torch
import torch.nn.functional as F

from .build import decoder_hidden_dims, encoder_centred, encoder_hidden_dims
from .errors import PgmError, PgmTypeError
from .generative_model import GenerativeModel
from .nn.decoders import make_decoder
from .nn.encoders import make_encoder
from .registry import MODELS

__all__ = ["Autoencoder"]


class Autoencoder(GenerativeModel):
    """x -> encoder -> code z (a point, not a distribution) -> decoder -> reconstruction.

    Trained by minimising a reconstruction loss, ``l2`` (on pixels scaled to [0, 1]) or
    ``cross-entropy`` (K-way, or Bernoulli for K = 2), written as a ``pyro.factor`` so the same
    SVI trainer fits it (with an empty guide, maximising the "ELBO" minimises the loss). It
    defines no p(x): the log-likelihood estimator refuses it, and ``sample`` has no prior to
    draw from; it still gives reconstructions and latent features.
    """

    has_density = False

    def __init__(self, cfg: dict):
        super().__init__(cfg["image_shape"], cfg["num_levels"], cfg)
        self.latent_dim = cfg["latent_dim"]
        self.reconstruction = cfg["reconstruction"]
        if self.reconstruction == "auto":
            self.reconstruction = "cross-entropy" if self.num_levels >= 2 else "l2"
        if self.reconstruction == "cross-entropy" and self.num_levels < 2:
            raise PgmError("reconstruction: 'cross-entropy' needs num_levels >= 2; found 0")
        k = self.num_levels
        per_dim = 1 if self.reconstruction == "l2" or k == 2 else k
        act = cfg.get("activation", "relu")
        self.encoder = make_encoder(
            cfg["network"],
            self.event_shape,
            k,
            encoder_hidden_dims(cfg),
            self.latent_dim,
            act,
            centred=encoder_centred(cfg),
        )
        self.decoder = make_decoder(
            cfg["network"],
            self.latent_dim,
            decoder_hidden_dims(cfg),
            self.event_shape,
            per_dim,
            act,
        )

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        return x / (self.num_levels - 1) if self.num_levels >= 2 else x

    def reconstruction_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image loss ``(N,)``: summed squared error or cross-entropy over pixels."""
        out = self.decoder(self.encoder(x))
        dims = tuple(range(1, x.dim()))
        if self.reconstruction == "l2":
            return (
                (
                    (torch.sigmoid(out[..., 0]) if self.num_levels >= 2 else out[..., 0])
                    - self._scale(x)
                )
                .pow(2)
                .sum(dims)
            )
        if self.num_levels == 2:
            return F.binary_cross_entropy_with_logits(out[..., 0], x, reduction="none").sum(dims)
        logp = out.log_softmax(-1).gather(-1, x.long().unsqueeze(-1)).squeeze(-1)
        return -logp.sum(dims)

    def model(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):
            pyro.factor("reconstruction", -self.reconstruction_loss(x))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder(z)
        if self.reconstruction == "l2" or self.num_levels == 2:
            v = torch.sigmoid(out[..., 0]) if self.num_levels >= 2 else out[..., 0]
            return v * (self.num_levels - 1) if self.num_levels >= 2 else v
        levels = torch.arange(out.shape[-1], dtype=out.dtype, device=out.device)
        return (out.softmax(-1) * levels).sum(-1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def describe(self) -> str:
        network = "MLP" if type(self.encoder).__name__.startswith("MLP") else "conv"
        return (
            f"deterministic {network} encoder/decoder, {self.latent_dim}-dim code, "
            f"{self.reconstruction} reconstruction loss; no density"
        )

    def sample(self, n: int, cached: bool = True) -> torch.Tensor:
        raise PgmTypeError(
            "autoencoder: a deterministic autoencoder has no prior p(z) and no density p(x), so "
            "it cannot sample; use a VAE (model = 'vae'), or reconstruct(x) / encode(x)"
        )


@MODELS.register("autoencoder", "deterministic autoencoder (feature-learning baseline, no density)")
def _autoencoder(cfg: dict) -> GenerativeModel:
    return Autoencoder(cfg)
