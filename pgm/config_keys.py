"""The keys a run's flat config may hold: each layer declares the keys it owns, and a key no
layer declared is refused in one line that names the closest declared key.

A run's config is one flat table (a TOML file, ``config.json``) holding the keys of several
layers: the model's (:mod:`pgm.model_config`), the data's (:mod:`pgm.data.from_config`) and
those of the layers above pgm (``inference`` declares its training keys when imported). Each
layer reads, fills and checks only its own keys; this module only knows which keys exist, so
``pgm.build`` accepts a run's whole ``config.json`` without knowing what training is.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from .errors import PgmError

__all__ = ["check_known_keys", "declare_keys", "known_keys", "owning_layer"]

#: layer name -> the keys it owns in a given config (a model may bring keys of its own)
_LAYERS: dict[str, Callable[[dict], Iterable[str]]] = {}


def declare_keys(layer: str, keys: Iterable[str] | Callable[[dict], Iterable[str]]) -> None:
    """Declare the config keys ``layer`` owns: a fixed collection, or a function of the config
    (for keys that depend on another key's value, e.g. a plug-in model's own keys).
    Declaring a layer again replaces its keys."""
    if callable(keys):
        _LAYERS[layer] = keys
    else:
        fixed = frozenset(keys)
        _LAYERS[layer] = lambda config: fixed


def known_keys(config: dict) -> set[str]:
    """Every key some layer declared for ``config``."""
    return {key for keys in _LAYERS.values() for key in keys(config)}


def owning_layer(key: str, config: dict, besides: str) -> str | None:
    """The layer other than ``besides`` that declared ``key`` for ``config`` (``"training"``
    for ``lr``), or None."""
    return next(
        (layer for layer, keys in _LAYERS.items() if layer != besides and key in keys(config)),
        None,
    )


def check_known_keys(config: dict) -> None:
    """Refuse keys no layer declared, naming the closest declared key for each."""
    valid = known_keys(config)
    unknown = set(config) - valid
    if not unknown:
        return
    listed = sorted(valid)
    # pgm alone (a script that did not import inference) cannot tell a training key from a
    # typo: it guesses only near misses and says where a run's other keys are declared
    alone = "training" not in _LAYERS
    guesses = [
        f"{key!r} (did you mean {close[0]!r}?)"
        if (close := difflib.get_close_matches(str(key), listed, n=1, cutoff=0.8 if alone else 0.6))
        else repr(key)
        for key in sorted(unknown, key=str)
    ]
    if alone:
        raise PgmError(
            f"config: expected the keys of pgm's layers (model, data); found "
            f"{', '.join(guesses)}, which none declares (a run's config.json also holds "
            "training keys: `import inference` declares them, and inference.load_run reads a "
            "run for you)"
        )
    raise PgmError(
        f"config: expected keys among {', '.join(listed)}; found unknown key(s) "
        f"{', '.join(guesses)}"
    )
