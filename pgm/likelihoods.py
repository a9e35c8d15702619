"""Likelihoods p(x | z) (:class:`pgm.parts.LikelihoodWithMean`): ``forward(z: (..., L)) ->
distribution`` over ``x`` with event shape ``image_shape`` and batch shape ``z.shape[:-1]``, and
``mean(z)``, E[x | z] in closed form."""

from __future__ import annotations

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from .build import decoder_hidden_dims
from .errors import PgmError
from .keys import Key
from .nn.decoders import make_decoder
from .registry import LIKELIHOODS

__all__ = [
    "BernoulliLikelihood",
    "CategoricalLikelihood",
    "DiscretizedLogisticLikelihood",
    "NormalLikelihood",
]


class _DecodedLikelihood(nn.Module):
    """A decoder network giving ``params_per_dim`` numbers per pixel, and the family they
    parameterise (subclasses say which)."""

    params_per_dim = 1

    def __init__(self, cfg: dict, params_per_dim: int | None = None):
        super().__init__()
        self.event_shape = tuple(cfg["image_shape"])
        self.num_levels = cfg["num_levels"]
        self.decoder = make_decoder(
            cfg["network"],
            cfg["latent_dim"],
            decoder_hidden_dims(cfg),
            self.event_shape,
            params_per_dim or self.params_per_dim,
            cfg.get("activation", "relu"),
        )

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        return self.family(self.decoder(z)).to_event(len(self.event_shape))

    def family(self, params: torch.Tensor) -> dist.Distribution:  # pragma: no cover - abstract
        raise NotImplementedError

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x | z] in the data's units (levels), exact, for reconstructions and traversals."""
        return self(z).mean

    #: the per-pixel family, in words (subclasses)
    family_name = "factorised"

    def describe(self) -> str:
        decoder = "MLP" if type(self.decoder).__name__.startswith("MLP") else "conv"
        return f"factorised {self.family_name} likelihood ({decoder} decoder)"


class _Bernoulli(dist.Bernoulli):
    """Pyro's Bernoulli with a leaner ``log_prob``: torch's negates the cross-entropy into a
    second full-size tensor; here the negation is in place (the estimator's hot path at
    K = 5000 touches one tensor instead of two)."""

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = torch.broadcast_tensors(self.logits, value)
        return F.binary_cross_entropy_with_logits(logits, value, reduction="none").neg_()


class BernoulliLikelihood(_DecodedLikelihood):
    """p(x | z) = prod_i Bernoulli(x_i; sigmoid(f(z)_i)), for binary images (K = 2)."""

    family_name = "Bernoulli"

    def family(self, params):
        return _Bernoulli(logits=params[..., 0])


class CategoricalLikelihood(_DecodedLikelihood):
    """p(x | z) = prod_i Categorical(x_i; softmax(f(z)_i)), a K-way softmax per pixel."""

    family_name = "categorical"

    def __init__(self, cfg: dict):
        super().__init__(cfg, params_per_dim=cfg["num_levels"])

    def family(self, params):
        return dist.Categorical(logits=params)

    def mean(self, z):
        probs = self(z).base_dist.probs
        levels = torch.arange(probs.shape[-1], device=probs.device, dtype=probs.dtype)
        return (probs * levels).sum(-1)


class DiscretizedLogisticLikelihood(_DecodedLikelihood):
    """p(x | z): a mixture of M discretised logistics per pixel (Salimans et al. 2017)."""

    family_name = "discretized-logistic-mixture"

    def __init__(self, cfg: dict):
        self.num_mixtures = cfg["num_mixtures"]
        super().__init__(cfg, params_per_dim=3 * cfg["num_mixtures"])

    def family(self, params):
        from .distributions.discretized_logistic import DiscretizedLogisticMixture

        logits, locs, log_scales = params.chunk(3, dim=-1)
        # locations are predicted on [-1, 1] and mapped onto the level grid
        locs = (torch.tanh(locs) + 1) * 0.5 * (self.num_levels - 1)
        return DiscretizedLogisticMixture(logits, locs, log_scales, self.num_levels)


class NormalLikelihood(_DecodedLikelihood):
    """p(x | z) = N(x; mu(z), diag sigma(z)^2): a density for real-valued data (``num_levels = 0``);
    on discrete images its value is a density, not a probability."""

    params_per_dim = 2
    family_name = "Gaussian"

    def family(self, params):
        return dist.Normal(params[..., 0], F.softplus(params[..., 1]) + 1e-3)


@LIKELIHOODS.register("bernoulli", "per-pixel Bernoulli (K = 2)")
def _bernoulli(cfg: dict) -> nn.Module:
    if cfg["num_levels"] != 2:
        raise PgmError(
            f"likelihood 'bernoulli': expected num_levels = 2; found {cfg['num_levels']}"
        )
    return BernoulliLikelihood(cfg)


@LIKELIHOODS.register("categorical", "per-pixel K-way softmax")
def _categorical(cfg: dict) -> nn.Module:
    if cfg["num_levels"] < 2:
        raise PgmError(
            f"likelihood 'categorical': expected num_levels >= 2; found {cfg['num_levels']}"
        )
    return CategoricalLikelihood(cfg)


@LIKELIHOODS.register(
    "discretized-logistic",
    "mixture of discretized logistics (PixelCNN++)",
    keys=[Key("num_mixtures", int, 5, low=1, help="logistics per pixel")],
)
def _logistic(cfg: dict) -> nn.Module:
    if cfg["num_levels"] < 2:
        raise PgmError(
            "likelihood 'discretized-logistic': expected num_levels >= 2; "
            f"found {cfg['num_levels']}"
        )
    return DiscretizedLogisticLikelihood(cfg)


@LIKELIHOODS.register("normal", "diagonal Gaussian, for real-valued (vector) data")
def _normal(cfg: dict) -> nn.Module:
    return NormalLikelihood(cfg)
