"""``pgm.build(config)``: any model from the keys a config file uses."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from .errors import PgmError, PgmTypeError
from .generative_model import GenerativeModel
from .nn.mlp import ACTIVATIONS
from .parts import Guide, Likelihood, Prior, PriorNeedsGuide, build_part, check_distribution
from .plain_model import MODEL_KEYS
from .plugins import plugin_records, use_plugins
from .registry import DECODERS, ENCODERS, GUIDES, LIKELIHOODS, MODELS, PRIORS
from .validation import check_choice, check_int, check_shape

__all__ = [
    "MODEL_DEFAULTS",
    "TRAINING_KEYS",
    "build",
    "build_guide",
    "build_likelihood",
    "build_prior",
    "decoder_hidden_dims",
    "encoder_hidden_dims",
    "resolve_model_config",
    "inapplicable_keys",
]

#: Keys that describe a model, with their defaults (``None``: required).
MODEL_DEFAULTS: dict[str, Any] = {
    "model": "vae",
    "prior": "standard-normal",
    "guide": "diagonal-normal",
    "likelihood": "auto",  # bernoulli for K = 2, categorical for K > 2, normal for K = 0
    "image_shape": None,  # [C, H, W], or [D] for vectors
    "num_levels": None,  # K levels per pixel; 0 for real-valued data
    "latent_dim": 16,
    "latent_dim_top": None,  # hvae: size of the top layer z2 (None: latent_dim)
    "network": "mlp",  # encoder/decoder: mlp, gated-mlp, conv (pgm.ENCODERS / pgm.DECODERS)
    "hidden_dim": 256,  # width of each hidden layer (and of flows' hidden layers)
    "hidden_layers": 2,  # encoder/decoder hidden layers of width hidden_dim
    "hidden_dims": None,  # or the encoder's widths from the pixels, e.g. [300, 300]; wins over the two above
    "activation": "relu",  # mlp/conv hidden layers: relu or tanh (gated-mlp gates instead)
    "num_components": 10,  # mixture components / VampPrior pseudo-inputs
    "num_flows": 2,  # coupling layers of the flow prior, IAF steps of the guide
    "num_mixtures": 5,  # logistics per pixel in discretized-logistic outputs
    "num_layers": 5,  # autoregressive networks' layers
    "hidden_channels": 32,  # autoregressive networks' channels
    "reconstruction": "auto",  # autoencoder loss: l2 or cross-entropy
}

#: Keys a config may carry for training and evaluation (read by ``inference``), not by ``build``.
TRAINING_KEYS = {
    "data",
    "data_dir",
    "epochs",
    "batch_size",
    "lr",
    "seed",
    "device",
    "elbo",
    "num_particles",
    "kl_warmup_epochs",
    "grad_clip",
    "num_train",
    "eval_particles",
    "checkpoint_every",
    "keep_checkpoints",
    "num_workers",
    "precision",
    "download",
    "lr_schedule",
    "lr_decay",
    "lr_step_epochs",
    "adam_betas",
    "adam_eps",
    "early_stopping_patience",
    "plugins",  # plug-in modules or .py files (pgm.plugins); a run saves their records here
    "logger",
}

_INT_KEYS = {
    "latent_dim": 1,
    "latent_dim_top": 1,
    "hidden_dim": 1,
    "hidden_layers": 1,
    "num_components": 1,
    "num_flows": 1,
    "num_mixtures": 1,
    "num_layers": 1,
    "hidden_channels": 1,
}


def resolve_model_config(config: dict) -> dict:
    """Fill defaults and check every model key; unknown keys and names are refused. The
    config's ``plugins`` are loaded first (their names then count as registered), and the
    result's ``plugins`` holds the records of every plug-in the config needs (if any)."""
    if not isinstance(config, dict):
        raise PgmTypeError(f"config: expected a dict; found {type(config).__name__}")
    named = use_plugins(config.get("plugins"))
    own_keys = MODEL_KEYS.get(config.get("model", MODEL_DEFAULTS["model"]), {})
    unknown = set(config) - set(MODEL_DEFAULTS) - TRAINING_KEYS - set(own_keys)
    if unknown:
        import difflib

        valid = sorted(set(MODEL_DEFAULTS) | TRAINING_KEYS | set(own_keys))
        guesses = [
            f"{key!r} (did you mean {close[0]!r}?)"
            if (close := difflib.get_close_matches(str(key), valid, n=1))
            else repr(key)
            for key in sorted(unknown, key=str)
        ]
        raise PgmError(
            f"config: expected keys among {', '.join(valid)}; found unknown key(s) {', '.join(guesses)}"
        )
    cfg = copy.deepcopy(MODEL_DEFAULTS)
    cfg.update(copy.deepcopy(own_keys))
    cfg.update(
        {k: copy.deepcopy(v) for k, v in config.items() if k in MODEL_DEFAULTS or k in own_keys}
    )
    for key in ("image_shape", "num_levels"):
        if cfg[key] is None:
            raise PgmError(
                f"{key}: required (the data's shape [C, H, W] and its levels K); found nothing"
            )
    cfg["image_shape"] = check_shape(cfg["image_shape"], "image_shape")
    cfg["num_levels"] = check_int(cfg["num_levels"], "num_levels", minimum=0)
    if cfg["num_levels"] == 1:
        raise PgmError("num_levels: expected 0 (real-valued) or an integer >= 2; found 1")
    if cfg["latent_dim_top"] is None:
        cfg["latent_dim_top"] = cfg["latent_dim"]
    for key, minimum in _INT_KEYS.items():
        check_int(cfg[key], key, minimum=minimum)
    MODELS.check(cfg["model"], "model")
    PRIORS.check(cfg["prior"], "prior")
    GUIDES.check(cfg["guide"], "guide")
    if cfg["likelihood"] == "auto":
        k = cfg["num_levels"]
        cfg["likelihood"] = "normal" if k == 0 else "bernoulli" if k == 2 else "categorical"
    LIKELIHOODS.check(cfg["likelihood"], "likelihood")
    ENCODERS.check(cfg["network"], "network")
    DECODERS.check(cfg["network"], "network")
    check_choice(cfg["activation"], "activation", ACTIVATIONS)
    dims = cfg["hidden_dims"]
    if dims is not None and not (
        isinstance(dims, (list, tuple))
        and dims
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims)
    ):
        raise PgmError(
            f"hidden_dims: expected a non-empty list of positive integers (e.g. [300, 300]); found {dims!r}"
        )
    check_choice(cfg["reconstruction"], "reconstruction", ("auto", "l2", "cross-entropy"))
    if cfg["network"] == "conv" and len(cfg["image_shape"]) != 3:
        raise PgmError(
            f"network: 'conv' expects image_shape [C, H, W]; found {list(cfg['image_shape'])}"
        )
    records = plugin_records({**config, **cfg}, named)
    if records:
        cfg["plugins"] = records
    return cfg


def encoder_hidden_dims(cfg: dict) -> list[int]:
    """The encoder's hidden widths, from the pixels inwards: ``hidden_dims`` when given, else
    ``hidden_layers`` layers of ``hidden_dim``. E.g. 784-400-400-50 is ``[400, 400]``."""
    if cfg.get("hidden_dims") is not None:
        return list(cfg["hidden_dims"])
    return [cfg["hidden_dim"]] * cfg.get("hidden_layers", 2)


def decoder_hidden_dims(cfg: dict) -> list[int]:
    """The decoder's hidden widths, from the latent code outwards: the encoder's, mirrored."""
    return encoder_hidden_dims(cfg)[::-1]


# which model keys each built-in model reads; a plug-in model (not listed) keeps every key
_NETWORK_KEYS = {"network", "hidden_dim", "hidden_layers", "hidden_dims", "activation"}
_VAE_KEYS = {"prior", "guide", "likelihood", "latent_dim"} | _NETWORK_KEYS
_AUTOREGRESSIVE_KEYS = {"likelihood", "num_layers", "hidden_channels"}
_KEYS_OF_MODEL = {
    "vae": _VAE_KEYS,
    "hvae": _VAE_KEYS | {"latent_dim_top"},
    "pixelvae": _VAE_KEYS | {"num_layers", "hidden_channels"},
    "autoencoder": {"latent_dim", "reconstruction"} | _NETWORK_KEYS,
    **{
        m: _AUTOREGRESSIVE_KEYS
        for m in ("pixelcnn", "gated-pixelcnn", "row-lstm", "diagonal-bilstm")
    },
}
# keys a part brings with it, by (key naming the part, its value)
_KEYS_OF_PART = {
    ("prior", "mixture"): {"num_components"},
    ("prior", "vamp"): {"num_components"},
    ("prior", "flow"): {"num_flows", "hidden_dim"},
    ("guide", "iaf"): {"num_flows"},
    ("likelihood", "discretized-logistic"): {"num_mixtures"},
    ("likelihood", "pixelcnn"): {"num_layers", "hidden_channels"},
}
_ALWAYS = {"model", "image_shape", "num_levels"}


def inapplicable_keys(cfg: dict) -> list[str]:
    """The model keys of a resolved config that its model does not read (``prior`` for a
    ``pixelcnn``, ``num_components`` for a standard-normal prior), sorted; none for a model
    or part that is not built in (a plug-in may read any key)."""
    used = _KEYS_OF_MODEL.get(cfg.get("model"))
    if used is None:
        return []
    used = set(used) | _ALWAYS
    for (key, value), extra in _KEYS_OF_PART.items():
        if key in used and cfg.get(key) == value:
            used |= extra
    builtin_part = {
        "prior": {"standard-normal", "diagonal-normal", "mixture", "vamp", "flow"},
        "guide": {"diagonal-normal", "iaf"},
    }
    if any(k in used and cfg.get(k) not in names for k, names in builtin_part.items()):
        return []  # a plug-in part: it may read any key
    return sorted(k for k in MODEL_DEFAULTS if k in cfg and k not in used)


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


def build(config: dict) -> GenerativeModel:
    """Build a model from config keys (see ``MODEL_DEFAULTS``), e.g.
    ``build({"model": "vae", "prior": "vamp", "image_shape": [1, 8, 8], "num_levels": 17})``.

    The result has ``.model(x)`` and ``.guide(x)`` (Pyro callables keeping the contract of
    DESIGN.md) and ``.sample(n) -> (n, C, H, W)``.
    """
    cfg = resolve_model_config(config)
    return MODELS[cfg["model"]](cfg)


@MODELS.register("vae", "VAE: any prior x guide x likelihood")
def _vae(cfg: dict) -> GenerativeModel:
    from .vae import VAE

    guide = build_guide(cfg)  # first: the order parts are built in is the order weights are drawn
    return VAE(build_prior(cfg), guide, build_likelihood(cfg), cfg)
