"""What a run was trained on: the resolved config and the data's identity, recorded in every
checkpoint and in ``model.safetensors``, so a resume or a reuse of the run can refuse another
config or other data in one line naming the differing keys (only ``epochs`` may grow)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

from pgm.data.from_config import DATA_SESSION_KEYS
from pgm.model_config import read_keys, recorded_config
from pgm.validation import short_repr

from .config import ConfigError
from .training_config import TRAINING_SESSION_KEYS

__all__ = [
    "SESSION_KEYS",
    "check_same_plugins",
    "check_same_run",
    "config_differences",
    "data_identity",
    "fingerprint",
]

#: Keys that say how a session runs, not what it trains: a resume may change them (another
#: machine, another data folder, checkpoints kept, the logger), and so may a reuse of the run.
#: Each layer marks its own (:class:`TrainingConfig`, :class:`pgm.data.DataConfig`).
SESSION_KEYS = TRAINING_SESSION_KEYS | DATA_SESSION_KEYS


def _array_sha256(images: torch.Tensor) -> str:
    array = images.detach().cpu().contiguous().numpy()
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    if array.size:
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def data_identity(train, valid) -> dict[str, Any]:
    """``{"name", "train", "valid", "sha256"}`` of the two :class:`pgm.data.ImageDataset`
    splits a run trains on: sizes, and a hash of the stored image arrays (dtype, shape, bytes)."""
    digest = hashlib.sha256()
    for ds in (train, valid):
        digest.update(_array_sha256(ds.images).encode())
    return {
        "name": train.name,
        "train": len(train),
        "valid": len(valid),
        "sha256": digest.hexdigest(),
    }


def fingerprint(cfg: dict, data: dict | None) -> str:
    """A short hash of every resolved config key that changes what is trained (not ``epochs``
    nor :data:`SESSION_KEYS`), and of the data's identity. Plug-ins count by their code
    (module and sha256), not by where their files lay."""
    kept = {k: v for k, v in cfg.items() if k != "epochs" and k not in SESSION_KEYS}
    if "plugins" in kept:
        kept["plugins"] = _plugin_code(kept["plugins"])
    payload = {"config": kept, "data": data}
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_differences(recorded: dict, given: dict, label: str = "given") -> list[str]:
    """``key (run has A, given B)`` (``label`` names B's source) for every key whose values
    differ, but
    :data:`SESSION_KEYS`; ``epochs`` may grow (a resume may extend a run) but not shrink.
    Model keys the recorded model does not read (which pgm 0.1 still wrote into config.json,
    e.g. ``num_layers`` for a VAE) are not compared, and plug-ins are compared by module and
    file content, not by where the file lies. A model key the record predates counts as its
    default, which is what the run was trained with (:func:`pgm.model_config.recorded_config`).
    When ``model`` itself differs, keys only one of the two configs has are not listed: they
    follow from it."""
    recorded = recorded_config(recorded, given)
    recorded = read_keys(recorded)
    # another model: the keys only one of the two models reads follow from that one difference
    shared_only = recorded.get("model") != given.get("model")
    out = []
    for key in sorted((set(recorded) | set(given)) - SESSION_KEYS):
        if shared_only and key != "model" and (key not in recorded or key not in given):
            continue
        old, new = recorded.get(key), given.get(key)
        if old == new or (key == "plugins" and _plugin_code(old) == _plugin_code(new)):
            continue
        if key == "epochs" and isinstance(old, int) and isinstance(new, int) and new > old:
            continue
        note = "; it may only grow" if key == "epochs" else ""
        # a key one side lacks is said so, not shown as None (a value some keys have)
        had = f"run has {_shown(key, old)}" if key in recorded else "run has no such key"
        has = f"{label} {_shown(key, new)}" if key in given else f"{label} has no such key"
        out.append(f"{key} ({had}, {has}{note})")
    return out


def _shown(key: str, value) -> str:
    """A value as the differences print it; ``num_train = 0`` means every training image."""
    if key == "num_train" and value == 0 and not isinstance(value, bool):
        return "0 (all)"
    return short_repr(value)


def _plugin_code(records) -> object:
    """What a run's plug-in records say about the code trained: each module and its file's
    sha256, not where the file lay (another machine keeps it elsewhere)."""
    if not records:
        return []
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return records
    return sorted((str(r.get("module")), str(r.get("sha256") or "no sha256")) for r in records)


def _recorded_sha256(records) -> dict[str, object]:
    """Each plug-in record's module and its sha256 (None where the record has none)."""
    if not isinstance(records, list):
        return {}
    return {str(r.get("module")): r.get("sha256") or None for r in records if isinstance(r, dict)}


def check_same_plugins(recorded: dict, cfg: dict, where: str, hint: str = "") -> None:
    """Refuse a config whose plug-in records (module and sha256) are not the ones ``recorded``
    (the config stored with the weights): recorded plug-ins are part of what was trained.
    Compares data only; imports nothing. A record of ``cfg`` (the run's config.json) without
    a sha256, where ``recorded`` has one, is named as such."""
    old, new = recorded.get("plugins"), cfg.get("plugins")
    if _plugin_code(old) == _plugin_code(new):
        return
    weights = _recorded_sha256(old)
    for module, sha in sorted(_recorded_sha256(new).items()):
        if sha is None and weights.get(module) is not None:
            raise ConfigError(
                f"run: expected the plug-ins recorded with {where}; found the record of plug-in "
                f"{module!r} in config.json with no sha256 (the weights record sha256 "
                f"{str(weights[module])[:12]}…){hint}"
            )
    raise ConfigError(
        f"run: expected the plug-ins recorded with {where}; found plugins (run has "
        f"{short_repr(_plugin_code(old))}, given {short_repr(_plugin_code(new))}){hint}"
    )


def check_same_run(
    recorded: dict, cfg: dict, data: dict | None, flag: str, where: str, hint: str = ""
) -> None:
    """Refuse, in one line naming the differing keys, a run whose recorded ``config`` / ``data``
    (metadata of a checkpoint or of ``model.safetensors``) is not ``cfg`` / ``data``.
    Metadata written before fingerprints existed carries neither and is not checked."""
    differ = []
    if isinstance(recorded.get("config"), dict):
        differ += config_differences(recorded["config"], cfg)
    if isinstance(recorded.get("data"), dict) and data is not None:
        differ += [f"data {d}" for d in config_differences(recorded["data"], data)]
    if differ:
        raise ConfigError(
            f"{flag}: expected the run's own config and data (only epochs may grow; session "
            "keys such as device or keep_checkpoints may change); found "
            f"differences with {where} in {'; '.join(differ)}{hint}"
        )


def check_weights_config(recorded: dict, cfg: dict, flag: str, where: str, hint: str) -> None:
    """Refuse a run's ``config.json`` (``cfg``) that differs from the config stored with its
    weights (``recorded``), in one line naming the keys; keys its model does not read (pgm 0.1
    recorded them) are not compared."""
    given = read_keys(cfg)
    # "run has": what the weights were trained with; the file is named, not "given" (a resume's
    # word for the command's config), and no resume's rule is quoted
    differ = config_differences(recorded, given, label="config.json")
    if differ:
        raise ConfigError(
            f"{flag}: expected config.json to be the config its weights were trained with; "
            f"found differences with {where} in {'; '.join(differ)}{hint}"
        )
