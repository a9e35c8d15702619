"""``pgm.build(config)``: any model from the keys a config file uses."""

from __future__ import annotations

from types import MappingProxyType

import torch
from torch import nn

from .generative_model import GenerativeModel
from .model_config import MODEL_DEFAULTS, inapplicable_keys, resolve_model_config
from .nn.weight_init import apply_weight_init
from .parts import (
    Guide,
    Likelihood,
    Prior,
    PriorNeedsGuide,
    build_part,
    call_factory,
    check_distribution,
)
from .registry import GUIDES, LIKELIHOODS, MODELS, PRIORS

__all__ = [
    "MODEL_DEFAULTS",
    "build",
    "build_guide",
    "build_likelihood",
    "build_prior",
    "decoder_hidden_dims",
    "encoder_centred",
    "encoder_hidden_dims",
    "resolve_model_config",
    "inapplicable_keys",
]


def encoder_hidden_dims(cfg: dict) -> list[int]:
    """The encoder's hidden widths, from the pixels inwards: ``hidden_dims`` when given, else
    ``hidden_layers`` layers of ``hidden_dim``. E.g. 784-400-400-50 is ``[400, 400]``."""
    if cfg.get("hidden_dims") is not None:
        return list(cfg["hidden_dims"])
    return [cfg["hidden_dim"]] * cfg.get("hidden_layers", 2)


def encoder_centred(cfg: dict) -> bool:
    """Whether the built-in encoders read pixels in [-1, 1] (``encoder_input = "centred"``, the
    default) rather than [0, 1]."""
    return cfg.get("encoder_input", "centred") == "centred"


def decoder_hidden_dims(cfg: dict) -> list[int]:
    """The decoder's hidden widths, from the latent code outwards: the encoder's, mirrored."""
    return encoder_hidden_dims(cfg)[::-1]


def build_guide(cfg: dict) -> nn.Module:
    """The registered guide ``cfg["guide"]``, a :class:`pgm.parts.Guide` (checked: q(z | x) of
    two images has batch shape ``(2,)`` and event shape ``(latent_dim,)``)."""
    name = cfg["guide"]
    guide = build_part("guide", name, GUIDES[name], cfg, Guide)
    x = torch.zeros(2, *cfg["image_shape"])
    check_distribution("guide", name, guide, (x,), (2,), (cfg["latent_dim"],))
    return guide


def build_prior(cfg: dict) -> nn.Module:
    """The registered prior ``cfg["prior"]``, a :class:`pgm.parts.Prior` (checked: batch shape
    ``()``, event shape ``(latent_dim,)``; a :class:`pgm.parts.PriorNeedsGuide` is checked by
    its ``attach``, which the model calls)."""
    name = cfg["prior"]
    prior = build_part("prior", name, PRIORS[name], cfg, Prior)
    if not isinstance(prior, PriorNeedsGuide):
        check_distribution("prior", name, prior, (), (), (cfg["latent_dim"],))
    return prior


def build_likelihood(cfg: dict) -> nn.Module:
    """The registered likelihood ``cfg["likelihood"]``, a :class:`pgm.parts.Likelihood`
    (checked: p(x | z) of two codes has batch shape ``(2,)`` and event shape ``image_shape``)."""
    name = cfg["likelihood"]
    likelihood = build_part("likelihood", name, LIKELIHOODS[name], cfg, Likelihood)
    z = torch.zeros(2, cfg["latent_dim"])
    check_distribution("likelihood", name, likelihood, (z,), (2,), tuple(cfg["image_shape"]))
    return likelihood


def build(config: dict | MappingProxyType) -> GenerativeModel:
    """Build a model from config keys (see :mod:`pgm.model_config`), e.g.
    ``build({"model": "vae", "prior": "vamp", "image_shape": [1, 8, 8], "num_levels": 17})``.

    The result has ``.model(x)`` and ``.guide(x)`` (Pyro callables keeping the contract of
    DESIGN.md) and ``.sample(n) -> (n, C, H, W)``. A run's whole ``config.json`` is accepted:
    keys another layer declared (data, training) are not the model's and are left alone.
    ``weight_init = "he"`` then redraws a built-in model's dense layers' weights
    (:mod:`pgm.nn.weight_init`; a plug-in model, part or network keeps its own).
    A resolved model layer (``inference.ResolvedConfig.model``, a read-only mapping) is built
    as it is: a dict is resolved here, at the public edge, and only then.
    """
    cfg = dict(config) if isinstance(config, MappingProxyType) else resolve_model_config(config)
    model = call_factory("model", cfg["model"], MODELS[cfg["model"]], cfg)
    scheme = cfg.get("weight_init", "torch")
    # a plug-in model initialises itself (it may declare a weight_init key of its own)
    if scheme != "torch" and MODELS.builtin(cfg["model"]):
        if "weight_init" not in inapplicable_keys(cfg):
            apply_weight_init(model, scheme)
    return model


@MODELS.register("vae", "VAE: any prior x guide x likelihood")
def _vae(cfg: dict) -> GenerativeModel:
    from .vae import VAE

    guide = build_guide(cfg)  # first: the order parts are built in is the order weights are drawn
    return VAE(build_prior(cfg), guide, build_likelihood(cfg), cfg)
