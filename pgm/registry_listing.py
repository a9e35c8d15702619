"""What ``pgm list`` shows: every registered name with its description, and with ``--keys`` the
config keys each model and part reads, their defaults, bounds and meaning, read from where they
are declared (the model layer's :class:`~pgm.model_config.ModelConfig` fields and their
comments, the :class:`~pgm.keys.Key` declarations of registered parts, a plug-in model's own
keys). :func:`describe` gives the registered one-line description of a name, so a report can
show a plug-in model by its description rather than its class name."""

from __future__ import annotations

import dataclasses
import inspect
import re
import warnings
from typing import Any

from .model_config import (
    _INT_KEYS,
    _KEYS_OF_MODEL,
    ModelConfig,
    model_key_clashes,
    model_keys,
    own_key_clashes,
)
from .plain_model import MODEL_KEYS
from .plugins import PluginWarning
from .registry import GUIDES, LIKELIHOODS, MODELS, PRIORS, all_registries

__all__ = ["describe", "format_keys", "key_rows"]

_PARTS = {"prior": PRIORS, "guide": GUIDES, "likelihood": LIKELIHOODS}


def describe(kind: str, name: str) -> str:
    """The one-line description ``name`` was registered with in the registry ``kind``
    (``"models"``, ``"priors"``, ...; ``"model"`` works too); "" when it has none."""
    registries = all_registries()
    registry = registries.get(kind) or registries.get(kind + "s")
    if registry is None:
        return ""
    return registry.describe(name) if name in registry else ""


def _field_help() -> dict[str, str]:
    """Each ModelConfig field's meaning: the comment on its line (or the line above)."""
    out, above = {}, ""
    for line in inspect.getsource(ModelConfig).splitlines():
        text = line.strip()
        match = re.match(r"(\w+): [^=]+=[^#]*(?:#\s*(.*))?$", text)
        if match:
            out[match.group(1)] = match.group(2) or above
            above = ""
        elif text.startswith("#"):
            above = text.lstrip("# ")
    return out


def key_rows(model: str | None = None) -> list[dict[str, Any]]:
    """``{"owner", "key", "default", "bounds", "help"}`` for every key the model (all models
    when None) and the parts it can take read. An unknown model is refused (PgmError). A
    plug-in part that gives one of pgm's own model keys another default (which a config naming
    it is refused for) is listed, with a :class:`~pgm.plugins.PluginWarning` line for each such
    key."""
    if model is not None:
        MODELS.check(model, "model")
    helps, rows, clashes = _field_help(), [], {}
    fields = {f.name: f.default for f in dataclasses.fields(ModelConfig) if f.name != "own"}
    for name in [model] if model else sorted(MODELS):
        read = _KEYS_OF_MODEL.get(name) or model_keys({"model": name}) - {"plugins"}
        for key in sorted(set(read) & set(fields)):
            low = _INT_KEYS.get(key)
            rows.append(
                {
                    "owner": f"model {name}",
                    "key": key,
                    "default": fields[key],
                    "bounds": f"[{low}, inf)" if low is not None else "",
                    "help": helps.get(key, ""),
                }
            )
        clashes.update(dict.fromkeys(model_key_clashes(name)))
        for key, default in MODEL_KEYS.get(name, {}).items():
            rows.append(
                {"owner": f"model {name}", "key": key, "default": default, "bounds": "", "help": ""}
            )
        for kind, registry in _PARTS.items():
            if name in _KEYS_OF_MODEL and kind not in _KEYS_OF_MODEL[name]:
                continue
            for part in sorted(registry):
                clashes.update(dict.fromkeys(own_key_clashes(kind, registry, part)))
                for k in registry.keys(part):
                    row = {"owner": f"{kind} {part}", "key": k.name, "default": k.default}
                    if row not in [{x: r[x] for x in row} for r in rows]:
                        rows.append({**row, "bounds": k.bounds(), "help": k.help})
    for clash in clashes:
        what = "model" if clash.startswith("model ") else "part"
        warnings.warn(f"{clash} (pgm train refuses this {what})", PluginWarning, stacklevel=2)
    return rows


def format_keys(model: str | None = None) -> str:
    """The table ``pgm list [MODEL] --keys`` prints."""
    rows = key_rows(model)
    header = {"owner": "model/part", "key": "key", "default": "default", "bounds": "bounds"}
    cells = [header] + [{k: str(r[k]) for k in header} for r in rows]
    width = {k: max(len(c[k]) for c in cells) for k in header}
    lines = []
    for cell, row in zip(cells, [{"help": "meaning"}, *rows], strict=True):
        text = "  ".join(f"{cell[k]:<{width[k]}}" for k in header)
        lines.append(f"{text}  {row['help']}".rstrip())
    return "\n".join(lines)
