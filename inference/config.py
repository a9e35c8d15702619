"""A run's config: a TOML file and ``--set`` overrides, read into one flat table, and its
composition from the layers that own its keys (model and data: pgm; training: inference)."""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pgm.config_keys import check_known_keys
from pgm.data.from_config import DATA_KEYS, DataConfig
from pgm.model_config import NETWORK_SETTINGS, inapplicable_keys, resolve_model_config
from pgm.plugins import normalise_spec
from pgm.run_plugins import use_plugins
from pgm.validation import what_is

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from pgm.errors import PgmError

from .training_config import TRAINING_KEYS, TrainingConfig, warn_once

__all__ = [
    "ConfigError",
    "ResolvedConfig",
    "load_config",
    "parse_overrides",
    "resolve_config",
    "resolve_run",
    "warn_initialisation",
]


class ConfigError(PgmError):
    """A config file or setting that cannot be used; the message names the key or file."""


def load_config(path: str | Path) -> dict:
    """Read a TOML config file; errors name the file. Relative ``.py`` paths in its ``plugins``
    are read from the file's folder."""
    path = Path(path)
    config = _read_toml(path)
    plugins = config.get("plugins")
    if isinstance(plugins, list):
        config["plugins"] = [
            normalise_spec(p, f"plugins (in {path})", base=path.parent) if isinstance(p, str) else p
            for p in plugins
        ]
    return config


def _not_a_file(path: Path) -> str:
    """What is at a path that is no regular file (/dev/null was called "no such file")."""
    return what_is(path) if path.exists() else "no such file"


def _read_toml(path: Path) -> dict:
    """The parsed TOML file; errors name the file."""
    if not path.is_file():
        raise ConfigError(f"config: expected a TOML file; found {_not_a_file(path)}: {path}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"config: expected valid TOML in {path}; found a syntax error ({err})"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"config: expected valid TOML in {path}; found values nested too deeply"
        ) from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config: expected UTF-8 TOML text in {path}; found undecodable bytes "
            f"({err.reason} at byte {err.start})"
        ) from None
    except OSError as err:
        raise ConfigError(
            f"config: expected a readable file; found {path} unreadable ({err.strerror or err})"
        ) from None


def parse_overrides(pairs: list[str]) -> dict:
    """``["lr=0.01", "prior=vamp", "image_shape=[1,8,8]"]`` -> dict; values are TOML literals,
    or plain strings when they do not parse as one."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set: expected key=value; found {pair!r}")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"--set: expected a key before '='; found {pair!r}")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        out[key] = value
    return out


@dataclass(frozen=True)
class ResolvedConfig:
    """A run's configuration, resolved once (:func:`resolve_run`): each layer filled and
    checked by its owner, plug-ins loaded once. ``model`` is the model layer as ``pgm.build``
    reads it (keys the model does not read dropped); ``plugins`` the records config.json keeps."""

    data: DataConfig
    training: TrainingConfig
    model: MappingProxyType
    plugins: tuple[dict, ...] = ()

    def as_dict(self) -> dict:
        """The flat config a run records in ``config.json`` (a fresh, mutable copy)."""
        cfg = {**self.data.as_dict(), **self.training.as_dict(), **copy.deepcopy(dict(self.model))}
        if self.plugins:
            cfg["plugins"] = copy.deepcopy(list(self.plugins))
        return cfg


def resolve_run(config: dict, image_shape=None, num_levels=None) -> ResolvedConfig:
    """The one entry point resolving a run's config into a :class:`ResolvedConfig` (see
    :func:`resolve_config` for what is checked)."""
    try:
        return _resolve(config, image_shape, num_levels)
    except PgmError as err:
        if type(err) is not PgmError:
            raise  # a more precise kind (an unknown name, a plug-in's type error) stays
        # a setting the layers refused: inference's answer for a config is ConfigError
        raise ConfigError(str(err)) from None


def resolve_config(config: dict, image_shape=None, num_levels=None) -> dict:
    """The flat config a run records: every layer's keys filled and checked once by their
    owner (:class:`pgm.data.DataConfig`, :class:`TrainingConfig`, the model's in
    :func:`pgm.model_config.resolve_model_config`); a key no layer declared is refused, naming
    the closest one. ``image_shape``/``num_levels`` come from the data when the config leaves
    them out; when it states them they must agree with the data."""
    return resolve_run(config, image_shape, num_levels).as_dict()


#: the deepest nesting a config may have (its settings are at most a list in a table)
MAX_CONFIG_DEPTH = 32


def _check_depth(config: dict) -> None:
    """Refuse, without recursing, a config nested deeper than :data:`MAX_CONFIG_DEPTH` (a
    TOML of 5,000 dotted keys hit a RecursionError, with a traceback, in deepcopy)."""
    stack = [(config, 1, None)]
    while stack:
        value, depth, key = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(
                f"config: expected settings nested at most {MAX_CONFIG_DEPTH} deep; found "
                f"{key!r} nested deeper"
            )
        if isinstance(value, dict):
            stack += [(v, depth + 1, key or k) for k, v in value.items()]
        elif isinstance(value, list | tuple):
            stack += [(v, depth + 1, key) for v in value]


def _encoder_note(cfg: dict) -> str:
    """Why a model that reads ``encoder_input`` does not here: a plug-in encoder (it scales the
    levels itself), or real-valued data (nothing to scale)."""
    from pgm.registry import ENCODERS

    network = cfg.get("network")
    if isinstance(network, str) and network in ENCODERS and not ENCODERS.builtin(network):
        return f" with the plug-in encoder {network!r}"
    if cfg.get("num_levels") == 0 and "encoder_input" not in inapplicable_keys(
        {**cfg, "num_levels": 2, "encoder_input": "centred"}
    ):
        return " with real-valued data (num_levels = 0)"
    return ""


def _resolve(config: dict, image_shape, num_levels) -> ResolvedConfig:
    if not isinstance(config, dict):
        raise ConfigError(f"config: expected a table of settings; found {type(config).__name__}")
    _check_depth(config)
    config = copy.deepcopy(config)
    # loaded once, here, before any name (model, data, part) is looked up; the model layer
    # gets the records (checked again, not imported again)
    records = use_plugins(config.get("plugins"))
    if records:
        config["plugins"] = records
    check_known_keys(config)
    data = DataConfig.from_config(config)
    training = TrainingConfig.from_config(config)
    model_keys = {k: v for k, v in config.items() if k not in DATA_KEYS + TRAINING_KEYS}
    for key, found in (("image_shape", image_shape), ("num_levels", num_levels)):
        if found is None:
            continue
        found = list(found) if key == "image_shape" else found
        given = model_keys.get(key)
        if given is None:
            model_keys[key] = found
        elif (list(given) if isinstance(given, (list, tuple)) else given) != found:
            raise ConfigError(
                f"{key}: expected {found!r} (what data {data.data!r} has); found {given!r} in "
                "the config"
            )
    cfg = {**data.as_dict(), **training.as_dict()}
    cfg.update(resolve_model_config(model_keys))
    cfg["image_shape"] = list(cfg["image_shape"])
    # keys the model does not read are dropped, so config.json records only what was used;
    # the ones the user named get a one-line warning (defaults are dropped silently)
    unused = inapplicable_keys(cfg)
    named = [k for k in unused if k in config]
    if named:
        # a layer setting the model's network does not read (gated-conv's fixed layers)
        network = NETWORK_SETTINGS.intersection(named) and "network" not in unused
        warn_once(
            "config: {} not apply to model {!r}{}{}; ignored (not recorded in config.json)".format(
                ", ".join(repr(k) for k in named) + (" does" if len(named) == 1 else " do"),
                cfg["model"],
                f" with network {cfg['network']!r}" if network else "",
                _encoder_note(cfg) if "encoder_input" in named else "",
            )
        )
    for key in unused:
        del cfg[key]
    model = {k: v for k, v in cfg.items() if k not in DATA_KEYS + TRAINING_KEYS + ("plugins",)}
    return ResolvedConfig(data, training, MappingProxyType(model), tuple(cfg.get("plugins") or ()))


def warn_initialisation(cfg) -> None:
    """Warn, once, about a config whose model starts training far out: an ``hvae`` with He
    weights, softplus scales and {-1, 1} input. Said where a model is first initialised for
    training (a new run, ``fit_model``), not when a run is resumed or opened."""
    cfg = dict(cfg.model) if isinstance(cfg, ResolvedConfig) else cfg
    if (
        cfg.get("model") == "hvae"
        and cfg.get("weight_init") == "he"
        and cfg.get("conditional_scale") == "softplus"
        and cfg.get("encoder_input") == "centred"
    ):
        # measured at build (5 seeds, 500 binarized-MNIST images): first -ELBO 1.3e3 to 4e4,
        # up to 9e6 on one image, against 545 with torch's initialisation or {0, 1} input
        warn_once(
            "weight_init: 'he' with conditional_scale 'softplus' and encoder_input 'centred' "
            "can start an hvae with p(z1 | z2) standard deviations near 2e-3 and a first loss "
            "of 1e3 to 1e7; the authors' code pairs He initialisation with encoder_input = "
            '"unit" and clamped log-variances (conditional_scale = "clamped-log-variance", '
            'guide = "clamped-diagonal-normal")'
        )
