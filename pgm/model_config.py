"""The model layer's config keys: their defaults and checks (:class:`ModelConfig`), and which
keys each model reads.

``resolve_model_config`` fills and checks the model keys of a flat config (a TOML file, a run's
``config.json``); keys other layers declared (:mod:`pgm.config_keys`: the data's, training's)
are left to them, and keys no layer declared are refused. A plug-in model brings its own keys
and defaults (:data:`pgm.plain_model.MODEL_KEYS`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .config_keys import check_known_keys, declare_keys, owning_layer
from .data import from_config as _data_keys  # noqa: F401  (declares the data's keys)
from .errors import PgmError, PgmTypeError
from .gaussian_scales import SCALE_MAPS
from .nn.mlp import ACTIVATIONS
from .nn.weight_init import WEIGHT_INITS
from .plain_model import MODEL_KEYS
from .priors import PSEUDO_INPUTS
from .registry import DECODERS, ENCODERS, GUIDES, LIKELIHOODS, MODELS, PRIORS
from .run_plugins import plugin_records, use_plugins
from .validation import check_choice, check_int, check_shape, short_repr

__all__ = [
    "DECODER_INPUTS",
    "ENCODER_INPUTS",
    "MODEL_DEFAULTS",
    "PGM_KEYS",
    "ModelConfig",
    "inapplicable_keys",
    "model_keys",
    "read_keys",
    "recorded_config",
    "resolve_model_config",
]

#: how the built-in encoders read pixels: levels {0..K-1} scaled to [-1, 1], or to [0, 1]. Which
#: trains better depends on the data (benchmarks/RESULTS.md): "unit" on binarized MNIST (the
#: shipped binarized-MNIST configs say so), "centred" on digits, the default.
ENCODER_INPUTS = ("centred", "unit")

#: how an hvae's p(x | z1, z2) reads its code: its decoder's first layer on (z1, z2) together, or
#: one dense layer per stochastic layer, concatenated, before the decoder's remaining layers (the
#: VampPrior authors' code; :func:`pgm.hvae.build_hierarchical_vae`).
DECODER_INPUTS = ("joint", "per-layer")


@dataclass(frozen=True)
class ModelConfig:
    """What a model is: the model layer of a run's config, checked when made (a bad value is
    refused in one line naming its key). ``own`` holds a plug-in model's own keys
    (:data:`pgm.plain_model.MODEL_KEYS`); ``likelihood = "auto"`` and ``latent_dim_top =
    None`` are resolved from ``num_levels`` and ``latent_dim``."""

    model: str = "vae"  # the registered model (pgm list)
    prior: str = "standard-normal"  # p(z): a registered prior
    guide: str = "diagonal-normal"  # q(z | x): a registered guide
    likelihood: str = "auto"  # bernoulli for K = 2, categorical for K > 2, normal for K = 0
    image_shape: tuple[int, ...] | None = None  # [C, H, W], or [D] for vectors; required
    num_levels: int | None = None  # K levels per pixel; 0 for real-valued data; required
    latent_dim: int = 16  # size of the latent code z
    latent_dim_top: int | None = None  # hvae: size of the top layer z2 (None: latent_dim)
    # hvae: sigma of q(z1 | x, z2) and p(z1 | z2) from their heads (pgm.gaussian_scales)
    conditional_scale: str = "softplus"
    # hvae: p(x | z1, z2)'s first layer reads (z1, z2) together, or one dense layer per layer
    decoder_input: str = "joint"
    # encoder/decoder: mlp, gated-mlp, conv, gated-conv (pgm.ENCODERS / pgm.DECODERS)
    network: str = "mlp"
    hidden_dim: int = 256  # width of each hidden layer (and of flows' hidden layers)
    hidden_layers: int = 2  # encoder/decoder hidden layers of width hidden_dim
    # the encoder's widths from the pixels, e.g. [300, 300]; wins over hidden_dim, hidden_layers
    hidden_dims: list[int] | None = None
    activation: str = "relu"  # mlp/conv hidden layers: relu or tanh (gated ones gate instead)
    # built-in encoders' pixels: centred = levels scaled to [-1, 1]; unit = to [0, 1]
    encoder_input: str = "centred"
    # (he is the VampPrior authors' choice, with clamped log-variances; pgm.nn.weight_init)
    # dense layers' weights: torch = PyTorch's own; he = N(0, 2 / fan_in)
    weight_init: str = "torch"
    num_components: int = 10  # mixture components / VampPrior pseudo-inputs
    # VampPrior pseudo-inputs: sigmoid of logits, or hardtanh-clipped pixels (pgm.priors)
    pseudo_inputs: str = "sigmoid"
    num_flows: int = 2  # coupling layers of the flow prior, IAF steps of the guide
    num_mixtures: int = 5  # logistics per pixel in discretized-logistic outputs
    num_layers: int = 5  # autoregressive networks' layers
    hidden_channels: int = 32  # autoregressive networks' channels
    reconstruction: str = "auto"  # autoencoder loss: l2 or cross-entropy
    own: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def put(key: str, value: Any) -> None:
            object.__setattr__(self, key, value)

        for key in ("image_shape", "num_levels"):
            if getattr(self, key) is None:
                raise PgmError(
                    f"{key}: required (the data's shape [C, H, W] and its levels K); found nothing"
                )
        put("image_shape", check_shape(self.image_shape, "image_shape"))
        put("num_levels", check_int(self.num_levels, "num_levels", minimum=0))
        if self.num_levels == 1:
            raise PgmError("num_levels: expected 0 (real-valued) or an integer >= 2; found 1")
        if self.latent_dim_top is None:
            put("latent_dim_top", self.latent_dim)
        for key, minimum in _INT_KEYS.items():
            check_int(getattr(self, key), key, minimum=minimum)
        MODELS.check(self.model, "model")
        PRIORS.check(self.prior, "prior")
        GUIDES.check(self.guide, "guide")
        if self.likelihood == "auto":
            k = self.num_levels
            put("likelihood", "normal" if k == 0 else "bernoulli" if k == 2 else "categorical")
        LIKELIHOODS.check(self.likelihood, "likelihood")
        ENCODERS.check(self.network, "network")
        DECODERS.check(self.network, "network")
        check_choice(self.activation, "activation", ACTIVATIONS)
        check_choice(self.encoder_input, "encoder_input", ENCODER_INPUTS)
        check_choice(self.decoder_input, "decoder_input", DECODER_INPUTS)
        # a plug-in model declaring one of these keys itself owns its values
        own = MODEL_KEYS.get(self.model, {})
        for key, choices in (
            ("weight_init", WEIGHT_INITS),
            ("pseudo_inputs", PSEUDO_INPUTS),
            ("conditional_scale", SCALE_MAPS),
        ):
            if key not in own:
                check_choice(getattr(self, key), key, choices)
        dims = self.hidden_dims
        if dims is not None and not (
            isinstance(dims, (list, tuple))
            and dims
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims)
        ):
            raise PgmError(
                "hidden_dims: expected a non-empty list of positive integers (e.g. [300, 300]); "
                f"found {dims!r}"
            )
        check_choice(self.reconstruction, "reconstruction", ("auto", "l2", "cross-entropy"))
        if self.network == "conv" and len(self.image_shape) != 3:
            raise PgmError(
                f"network: 'conv' expects image_shape [C, H, W]; found {list(self.image_shape)}"
            )

    @classmethod
    def from_config(cls, config: dict) -> ModelConfig:
        """The model keys of a flat config (the others are left to their layers), defaults
        filled in: a plug-in model's own defaults (which may also replace a built-in key's)."""
        own = {**part_key_defaults(config), **MODEL_KEYS.get(_model_name(config), {})}
        values = copy.deepcopy({**own, **{k: v for k, v in config.items() if k in own}})
        for key in _declared(config):
            if key.name in values and key.name not in _FIELDS:
                values[key.name] = key.check(values[key.name])
        values.update(copy.deepcopy({k: v for k, v in config.items() if k in _FIELDS}))
        extra = {k: values.pop(k) for k in list(values) if k not in _FIELDS}
        return cls(**values, own=extra)

    def as_dict(self) -> dict[str, Any]:
        """The flat keys, as ``pgm.build``'s factories read them and ``config.json`` records."""
        out = {name: copy.deepcopy(getattr(self, name)) for name in _FIELDS}
        out.update(copy.deepcopy(self.own))
        return out


_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.name != "own")
#: Keys that describe a model, with their defaults (``None``: required or derived).
MODEL_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(ModelConfig) if f.name != "own"
}

#: Keys pgm reads besides the model's: the plug-ins a config loads (a run saves their records).
PGM_KEYS = frozenset({"plugins"})

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


#: the config keys naming a registered part that declares keys of its own
_PART_REGISTRIES = {"prior": PRIORS, "guide": GUIDES, "likelihood": LIKELIHOODS}


def _declared(config: dict) -> list:
    """The :class:`pgm.keys.Key` declarations of the parts ``config`` names. A part name that
    is not registered (or not a string: 5, ["vamp"]) is refused first, in one line naming the
    parts (as an unknown model is): its keys cannot be known, and a key of its own refused as
    unknown hid the cause."""
    out, clashes, first = [], [], {}
    for key, registry in _PART_REGISTRIES.items():
        name = config.get(key, MODEL_DEFAULTS[key])
        if name != MODEL_DEFAULTS[key]:  # a default ("auto") stands; 5 or ["vamp"] do not
            registry.check(name, key)
        if isinstance(name, str) and name in registry:
            clashes += own_key_clashes(key, registry, name)
            for k in registry.keys(name):
                # two parts reading one new key must agree on it, or one default is lost
                was = first.setdefault(k.name, (f"{key} {name!r}", k))
                if was[1] is not k and (was[1].default, was[1].type) != (k.default, k.type):
                    clashes.append(
                        f"{was[0]} and {key} {name!r}: expected one default and type for their "
                        f"key {k.name!r}; found {short_repr(was[1].default)} "
                        f"({was[1].type.__name__}) and {short_repr(k.default)} "
                        f"({k.type.__name__}) (one would be replaced silently)"
                    )
            out += registry.keys(name)
    if clashes:
        raise PgmError("; ".join(clashes))  # every clash of every part at once
    return out


def own_key_clashes(kind: str, registry, name: str) -> list[str]:
    """A plug-in part may declare one of pgm's own model keys (to read it, or list it), but not
    give it another default: pgm's field fills and checks that key, so the part's default would
    be silently replaced. Nor may it declare a key another layer owns (training's ``lr``, the
    data's ``data``): that layer fills it. One line for each such key of the part ``name`` of
    ``registry`` (a ``kind``: prior, guide, likelihood), naming the part and the key; none for
    a built-in part. A config naming the part is refused with all of them (``pgm list --keys``
    warns of each)."""
    if registry.builtin(name):
        return []
    lines = []
    for k in registry.keys(name):
        if k.name in MODEL_DEFAULTS:
            if k.default != MODEL_DEFAULTS[k.name]:
                lines.append(
                    f"{kind} {name!r}: expected its key {k.name!r} to keep pgm's default "
                    f"({MODEL_DEFAULTS[k.name]!r}: it is pgm's own model key, filled and checked "
                    f"by pgm) or to have a name of its own; found default {k.default!r}"
                )
        elif (
            layer := "pgm" if k.name in PGM_KEYS else owning_layer(k.name, {}, besides="model")
        ) is not None:
            lines.append(
                f"{kind} {name!r}: expected its keys to be model keys or names of its own; "
                f"found {k.name!r}, a key of the {layer} layer (filled and checked there: its "
                f"default {k.default!r} would be replaced silently)"
            )
    return lines


def model_key_clashes(name: str) -> list[str]:
    """A plug-in model's own settings (``register_model(config=...)``) may give pgm's model keys
    other defaults, but not declare a key another layer owns (training's ``lr``, the data's
    ``data``) or pgm's ``plugins``: that layer fills and checks it, so the model's default
    would be silently replaced. One line for each such key (``pgm list --keys`` warns of each;
    a config naming the model is refused with all of them)."""
    lines = []
    for key, default in MODEL_KEYS.get(name, {}).items():
        layer = "pgm" if key in PGM_KEYS else owning_layer(key, {}, besides="model")
        if layer is not None:
            lines.append(
                f"model {name!r}: expected its own keys to be model keys or names of its own; "
                f"found {key!r}, a key of the {layer} layer (filled and checked there: its "
                f"default {short_repr(default)} would be replaced silently)"
            )
    return lines


def _model_name(config: dict) -> str | None:
    """The config's ``model`` when it is a name (a list or table there is refused later, in one
    line, by the registry: as a table key it raised ``TypeError: unhashable type``)."""
    name = config.get("model", MODEL_DEFAULTS["model"])
    return name if isinstance(name, str) else None


def part_key_defaults(config: dict) -> dict[str, Any]:
    """The keys the parts ``config`` names declared, with their defaults (a built-in field's
    default is the field's)."""
    return {k.name: k.default for k in _declared(config) if k.name not in _FIELDS}


def model_keys(config: dict) -> set[str]:
    """The model keys ``config`` may hold: the built-in ones, its model's own (a plug-in's), and
    those its parts declared where they were registered. An unknown model is refused first, in
    one line naming the models: its keys cannot be known, and a key of its own refused as
    unknown (with every declared key listed) hid the cause."""
    if "model" in config:  # a name not registered, 5 or ["vae"]
        MODELS.check(config["model"], "model")
    own = MODEL_KEYS.get(_model_name(config), {})
    return set(MODEL_DEFAULTS) | set(own) | PGM_KEYS | set(part_key_defaults(config))


declare_keys("model", model_keys)


def resolve_model_config(config: dict) -> dict:
    """The model keys of a flat config, filled and checked (:class:`ModelConfig`); keys no
    layer declared are refused, keys of other layers are left out of the result. The config's
    ``plugins`` are loaded first (their names then count as registered), and the result's
    ``plugins`` holds the records of every plug-in the config needs (if any)."""
    if not isinstance(config, dict):
        raise PgmTypeError(f"config: expected a dict; found {type(config).__name__}")
    named = use_plugins(config.get("plugins"))
    check_known_keys(config)  # every layer's keys, so a whole config.json is accepted
    clashes = model_key_clashes(_model_name(config) or "")
    if clashes:
        raise PgmError("; ".join(clashes))
    cfg = ModelConfig.from_config(config).as_dict()
    records = plugin_records({**config, **cfg}, named)
    if records:
        cfg["plugins"] = records
    return cfg


# which model keys each built-in model reads; a plug-in model (not listed) keeps every key
_NETWORK_KEYS = {
    "network",
    "hidden_dim",
    "hidden_layers",
    "hidden_dims",
    "activation",
    "encoder_input",
    "weight_init",
}
_VAE_KEYS = {"prior", "guide", "likelihood", "latent_dim"} | _NETWORK_KEYS
_AUTOREGRESSIVE_KEYS = {"likelihood", "num_layers", "hidden_channels"}
_KEYS_OF_MODEL = {
    "vae": _VAE_KEYS,
    "hvae": _VAE_KEYS | {"latent_dim_top", "conditional_scale", "decoder_input"},
    "pixelvae": _VAE_KEYS | {"num_layers", "hidden_channels"},
    "autoencoder": {"latent_dim", "reconstruction"} | _NETWORK_KEYS,
    **{
        m: _AUTOREGRESSIVE_KEYS
        for m in ("pixelcnn", "gated-pixelcnn", "row-lstm", "diagonal-bilstm")
    },
}
_ALWAYS = {"model", "image_shape", "num_levels"}
#: the model keys that set a network's layers: a network registered with ``reads``
#: (``pgm.ENCODERS``/``pgm.DECODERS``) reads only the ones it names
NETWORK_SETTINGS = frozenset({"hidden_dim", "hidden_layers", "hidden_dims", "activation"})
#: the settings a built-in model reads itself, whatever its network: an hvae's dense layers
#: (its z towers) take their widths from them
_MODEL_READS = {"hvae": frozenset({"hidden_dim", "hidden_layers", "hidden_dims"})}


def inapplicable_keys(cfg: dict) -> list[str]:
    """The model keys of a resolved config that its model does not read (``prior`` for a
    ``pixelcnn``, ``num_components`` for a standard-normal prior), sorted; none for a model
    or part that is not built in (a plug-in may read any key)."""
    used = _KEYS_OF_MODEL.get(_model_name(cfg))
    if used is None:
        return []
    used = set(used) | _ALWAYS
    brought: set[str] = set()
    for key, registry in _PART_REGISTRIES.items():
        name = cfg.get(key)
        if key not in used or not isinstance(name, str) or name not in registry:
            continue
        if not registry.builtin(name):
            return []  # a plug-in part: it may read any key
        brought |= {k.name for k in registry.keys(name)}  # keys a part brings, as it declared
    network = cfg.get("network")
    if "network" in used and isinstance(network, str):
        # a built-in network that declared what it reads (gated-conv: none of the widths)
        reads = [_network_reads(r, network) for r in (ENCODERS, DECODERS) if network in r]
        unread = NETWORK_SETTINGS.difference(*reads) if reads else frozenset()
        used -= unread - _MODEL_READS.get(_model_name(cfg), frozenset())
    used |= brought
    if (
        isinstance(network, str) and network in ENCODERS and not ENCODERS.builtin(network)
    ) or cfg.get("num_levels") == 0:
        # a plug-in encoder reads the integer levels and scales them itself; real-valued data
        # (no levels) reaches every encoder unchanged: encoder_input changes nothing
        used.discard("encoder_input")
    return sorted(k for k in MODEL_DEFAULTS if k in cfg and k not in used)


def read_keys(cfg: dict) -> dict:
    """``cfg`` less the model keys its model does not read (:func:`inapplicable_keys`): what a
    run's record says of its model, where an older pgm recorded more (``num_layers`` for a VAE,
    ``activation`` for a gated-mlp)."""
    unread = set(inapplicable_keys(cfg))
    return {k: v for k, v in cfg.items() if k not in unread}


def _network_reads(registry, network: str) -> frozenset[str]:
    """The layer settings the network ``network`` of ``registry`` reads: what it declared
    (``reads=``), else all of them (a plug-in network may read any)."""
    declared = registry.reads(network) if registry.builtin(network) else None
    return NETWORK_SETTINGS if declared is None else declared


def recorded_config(cfg: dict, keys: Iterable[str] | None = None) -> dict:
    """A run's recorded config (its ``config.json``, or the config stored with its weights)
    with every model key it predates, one added to pgm after the run was recorded (e.g.
    ``encoder_input``), set to that key's default, which is what the run was trained with,
    where its model reads the key; only ``keys`` when given. A config naming no model (a data
    record) is unchanged."""
    out = dict(cfg)
    if not isinstance(out.get("model"), str):
        return out  # a data record, or a model name the config checks will refuse
    if isinstance(keys, str):
        keys = (keys,)  # one key's name, not its letters
    wanted = MODEL_DEFAULTS.keys() if keys is None else set(keys) & MODEL_DEFAULTS.keys()
    for key in wanted:
        default = MODEL_DEFAULTS[key]
        if key not in out and default is not None:
            if key not in inapplicable_keys({**out, key: default}):
                out[key] = default
    return out
