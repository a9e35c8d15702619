"""Run configuration: TOML files with the ``pgm.build`` keys plus training keys, ``--set`` overrides."""

from __future__ import annotations

import copy
import logging
import sys
from pathlib import Path
from typing import Any

from pgm.build import TRAINING_KEYS, inapplicable_keys, resolve_model_config
from pgm.plugins import normalise_spec, use_plugins
from pgm.registry import DATASETS
from pgm.validation import check_bool, check_choice, check_float, check_int

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from pgm.errors import PgmError

__all__ = ["TRAINING_DEFAULTS", "ConfigError", "load_config", "parse_overrides", "resolve_config"]


class ConfigError(PgmError):
    """A config file or setting that cannot be used; the message names the key or file."""


TRAINING_DEFAULTS: dict[str, Any] = {
    "data": "digits",
    "data_dir": "",  # "" means --data-dir / $PGM_DATA_DIR / ~/.pgm/data
    "download": False,
    "num_train": 0,  # 0: every training image
    "epochs": 10,
    "batch_size": 64,
    "lr": 1e-3,
    "lr_schedule": "constant",  # constant, step, exponential, iwae (inference/schedules.py)
    "lr_decay": 0.5,  # step: factor every lr_step_epochs; exponential: factor every epoch
    "lr_step_epochs": 10,
    "adam_betas": [0.9, 0.999],
    "adam_eps": 1e-8,
    "early_stopping_patience": 0,  # look-ahead in epochs on the valid loss; 0: off
    "seed": 0,
    "device": "auto",
    "precision": "fp32",
    "elbo": "trace",
    "num_particles": 1,
    "kl_warmup_epochs": 0,  # beta rises linearly over these epochs (Tomczak & Welling 2018)
    "grad_clip": 0.0,  # 0: no clipping
    "eval_particles": 100,
    "checkpoint_every": 1,  # epochs
    # what resume needs: the last checkpoint (it holds the best epoch's weights too)
    "keep_checkpoints": 1,
    "logger": "jsonl",  # metrics.jsonl always; "tensorboard" adds a TensorBoard log in tensorboard/
}
assert set(TRAINING_DEFAULTS) <= TRAINING_KEYS


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


def _read_toml(path: Path) -> dict:
    """The parsed TOML file; errors name the file."""
    if not path.is_file():
        found = "a folder" if path.is_dir() else "no such file"
        raise ConfigError(f"config: expected a TOML file; found {found}: {path}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"config: expected valid TOML in {path}; found a syntax error ({err})"
        ) from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config: expected UTF-8 TOML text in {path}; found undecodable bytes ({err.reason} at byte {err.start})"
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


def resolve_config(config: dict, image_shape=None, num_levels=None) -> dict:
    """Fill defaults and check every key. ``image_shape``/``num_levels`` come from the data when
    the file leaves them out; when it states them they must agree with the data."""
    if not isinstance(config, dict):
        raise ConfigError(f"config: expected a table of settings; found {type(config).__name__}")
    cfg = copy.deepcopy(TRAINING_DEFAULTS)
    cfg.update(copy.deepcopy(config))
    use_plugins(cfg.get("plugins"))  # before any name is looked up
    DATASETS.check(cfg["data"], "data")
    for key, found in (("image_shape", image_shape), ("num_levels", num_levels)):
        if found is None:
            continue
        given = cfg.get(key)
        if given is None:
            cfg[key] = list(found) if key == "image_shape" else found
        elif (list(given) if isinstance(given, (list, tuple)) else given) != (
            list(found) if key == "image_shape" else found
        ):
            found = list(found) if key == "image_shape" else found
            raise ConfigError(
                f"{key}: expected {found!r} (what data {cfg['data']!r} has); found {given!r} in the config"
            )
    check_int(cfg["epochs"], "epochs", minimum=1)
    check_int(cfg["batch_size"], "batch_size", minimum=1)
    check_float(cfg["lr"], "lr", minimum=0.0, exclusive_minimum=True)
    check_int(cfg["seed"], "seed", minimum=0, maximum=2**63 - 1)
    if "num_workers" in cfg:
        check_int(cfg["num_workers"], "num_workers", minimum=0)
    check_choice(cfg["device"], "device", ("auto", "cpu", "cuda"))
    check_choice(cfg["precision"], "precision", ("fp32", "bf16"))
    from .elbo import ELBOS

    check_choice(cfg["elbo"], "elbo", ELBOS)
    check_int(cfg["num_particles"], "num_particles", minimum=1)
    check_int(cfg["eval_particles"], "eval_particles", minimum=1)
    check_int(cfg["num_train"], "num_train", minimum=0)
    check_int(cfg["kl_warmup_epochs"], "kl_warmup_epochs", minimum=0)
    from .schedules import LR_SCHEDULES

    check_choice(cfg["lr_schedule"], "lr_schedule", LR_SCHEDULES)
    check_float(cfg["lr_decay"], "lr_decay", minimum=0.0, exclusive_minimum=True)
    if cfg["lr_decay"] > 1:
        raise ConfigError(f"lr_decay: expected a factor in (0, 1]; found {cfg['lr_decay']!r}")
    check_int(cfg["lr_step_epochs"], "lr_step_epochs", minimum=1)
    betas = cfg["adam_betas"]
    if not (
        isinstance(betas, (list, tuple))
        and len(betas) == 2
        and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas
        )
    ):
        raise ConfigError(
            f"adam_betas: expected [beta1, beta2] with each in [0, 1); found {betas!r}"
        )
    cfg["adam_betas"] = [float(b) for b in betas]
    check_float(cfg["adam_eps"], "adam_eps", minimum=0.0, exclusive_minimum=True)
    check_int(cfg["early_stopping_patience"], "early_stopping_patience", minimum=0)
    check_float(cfg["grad_clip"], "grad_clip", minimum=0.0)
    check_int(cfg["checkpoint_every"], "checkpoint_every", minimum=1)
    check_int(cfg["keep_checkpoints"], "keep_checkpoints", minimum=1)
    check_choice(cfg["logger"], "logger", ("jsonl", "tensorboard"))
    check_bool(cfg["download"], "download")
    if not isinstance(cfg["data_dir"], str):
        raise ConfigError(f"data_dir: expected a path string; found {cfg['data_dir']!r}")
    model_cfg = resolve_model_config(cfg)
    cfg.update(model_cfg)
    cfg["image_shape"] = list(cfg["image_shape"])
    # keys the model does not read are dropped, so config.json records only what was used;
    # the ones the user named get a one-line warning (defaults are dropped silently)
    unused = inapplicable_keys(cfg)
    named = [k for k in unused if k in config]
    if named:
        logging.getLogger("pgm").warning(
            "config: %s not apply to model %r; ignored (not recorded in config.json)",
            ", ".join(repr(k) for k in named) + (" does" if len(named) == 1 else " do"),
            cfg["model"],
        )
    for key in unused:
        del cfg[key]
    return cfg
