"""A run's plug-ins: what its config records, checked against what the user named.

A run records, in its config's ``plugins``, one record ``{"plugin", "module", "file",
"sha256", "version", "entry_point"}`` for every plug-in named and every plug-in module that
registered a part the config uses. A record is data: it never imports anything. Opening a
run (evaluate, sample, compare, resume) checks each record against what the user named
(:mod:`pgm.plugins`): the sha256 of the named file before it is imported, then the loaded
module. A plug-in the run needs that was not named, or whose code differs, is refused in one
line saying what to pass.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from . import plugins
from .plugins import PluginError
from .registry import all_registries
from .validation import short_repr

__all__ = ["check_before_import", "check_records", "plugin_records", "recorded", "use_plugins"]


def recorded(items: Any, argument: str = "plugins", run: str | None = None) -> list[dict]:
    """A run's ``plugins`` value, checked for form only (records, never names or paths: a
    run folder cannot name code to run); ``run`` (``"run R"``) is named in a refusal.
    Imports nothing."""
    if items is None:
        return []
    where = f" in 'plugins' of the config.json of {run}" if run and run != "the run" else ""
    if not isinstance(items, list):
        raise PluginError(
            f"{argument}: expected a list of plug-in records{where}; found {short_repr(items)}"
        )
    for item in items:
        problem = _record_problem(item)
        if problem:
            raise PluginError(
                f"{argument}: expected plug-in records{where}, each with a 'module' (a run "
                f"records what it was trained with; it cannot name code to run); {problem}"
            )
    return list(items)


def _record_problem(item: Any) -> str | None:
    """What is wrong with one plug-in record's form, or None."""
    if not isinstance(item, dict):
        return f"found {short_repr(item)}"
    module = item.get("module")
    if module is None:
        return f"found a record without one: {short_repr(item)}"
    if not (isinstance(module, str) and all(p.isidentifier() for p in module.split("."))):
        return (
            f"found 'module' {short_repr(module)}, which is not a dotted module name like "
            "'my_models'"
        )
    if len(module) > 255:
        return f"found 'module' {short_repr(module)}, a name of {len(module):,} characters"
    for key in ("sha256", "file", "plugin", "version", "entry_point", "distribution"):
        if not isinstance(item.get(key), str | None):
            return f"found {key!r} {short_repr(item[key])}, expected a string or null"
    return None


def _recorded_file(record: dict) -> str | None:
    """The record's file, only when it is the file of the record's module (``my_models.py``
    or ``my_models/__init__.py`` for ``my_models``): config.json is the run's text, not the
    user's word, so its ``file`` never points a hint at other code (the weights record the
    module, not the file)."""
    where = record.get("plugin") or record.get("file")
    if not where:
        return None
    path, last = Path(str(where)), record["module"].rsplit(".", 1)[-1]
    named = path.parent.name if path.name == "__init__.py" else path.stem
    return str(where) if named == last else None


def _name(record: dict) -> str:
    file = _recorded_file(record)
    return Path(file).name if file else record["module"]


def _needs(record: dict, run: str) -> str:
    """``run X was trained with plug-in markplug.py (version 2.5, sha256 ab12…)``."""
    extra = [f"version {record['version']}"] if record.get("version") else []
    extra += [f"sha256 {record['sha256'][:12]}…"] if record.get("sha256") else []
    return f"{run} was trained with plug-in {_name(record)}" + (
        f" ({', '.join(extra)})" if extra else ""
    )


def _pass(record: dict) -> str:
    if record.get("entry_point"):
        return f"install the package providing the entry point {record['entry_point']!r}" + (
            f" ({record['distribution']})" if record.get("distribution") else ""
        )
    where = _recorded_file(record)
    if where and plugins.is_path(where):
        # the path is the run folder's word, not the user's: said so, for a shared folder
        return (
            f"pass --plugin {where} (the file the run records; or your copy of it, once you "
            "trust its code) to load it"
        )
    return f"pass --plugin {record['module']} to load it"


def _refuse_changed(record: dict, found: str, sha: str, argument: str, run: str) -> None:
    raise PluginError(
        f"{argument}: {_needs(record, run)}; {found} has sha256 {sha[:12]}… (another version "
        f"of the code), so it was not run: pass the file the run was trained with"
    )


def _before_import(record: dict, argument: str, run: str) -> None:
    """The named file (or the module already loaded) of the record's module, compared with
    the record's sha256 without importing anything."""
    want = record.get("sha256")
    module = sys.modules.get(record["module"])
    if module is not None:
        have, found = plugins.loaded_sha256(module), f"the loaded module {record['module']!r}"
    else:
        spec = plugins.named_spec(record["module"])
        if spec is None:
            return
        have, found = plugins.code_sha256(spec), spec
    if want and have and want != have:
        _refuse_changed(record, found, have, argument, run)


def check_before_import(records: Any, argument: str = "plugins", run: str = "the run") -> None:
    """Compare each recorded plug-in with what the user named (its sha256), importing nothing:
    called on every run a command will open before any registry lookup can import the named
    plug-ins, so a changed plug-in is refused before any of its code runs."""
    for record in recorded(records, argument, run):
        _before_import(record, argument, run)


def check_records(
    records: Any, argument: str = "plugins", run: str = "the run"
) -> list[dict[str, Any]]:
    """Check a run's plug-in records against what the user named; import only that (after its
    sha256 matched). Returns the records of the code now loaded, in order. Refuses, in one
    line saying what to pass, a record with no named plug-in or with other code."""
    records = recorded(records, argument, run)
    check_before_import(records, argument, run)
    plugins.load_named()  # what the user named: each file checked above, if the run needs it
    current = []
    for record in records:
        if record["module"] == "__main__":
            current.append(dict(record))  # a script's own registrations: nothing to import
            continue
        module = sys.modules.get(record["module"])
        if module is None:
            raise PluginError(f"{argument}: {_needs(record, run)}; {_pass(record)}")
        now = plugins.module_record(module)
        if record.get("sha256") and now["sha256"] and now["sha256"] != record["sha256"]:
            _refuse_changed(record, now["file"] or record["module"], now["sha256"], argument, run)
        spec = plugins.named_spec(record["module"])
        current.append({"plugin": spec or record.get("plugin"), **now})
    return current


def use_plugins(
    items: Any, argument: str = "plugins", base: str | Path | None = None
) -> list[dict]:
    """The ``plugins`` of a config: names and paths a user wrote (imported; a relative path
    only with ``base``, its file's folder) and records a run saved (checked, never imported).
    Returns their records, in order, without repeats."""
    if items is None:
        return []
    if isinstance(items, (str, dict)) or not isinstance(items, (list, tuple)):
        raise PluginError(
            f'{argument}: expected a list of module names or .py paths (e.g. ["my_models"]); '
            f"found {short_repr(items)}"
        )
    strings = [i for i in items if isinstance(i, str)]
    specs = plugins.name_plugins(strings, argument, base, cwd=False)
    checked = iter(check_records([i for i in items if not isinstance(i, str)], argument))
    names = iter(specs)
    records: list[dict] = []
    for item in items:
        record = plugins.load_plugin(next(names), argument) if isinstance(item, str) else None
        record = record or next(checked)
        if all(r["module"] != record["module"] for r in records):
            records.append(record)
    return records


#: The config keys naming registered parts, with the registries each is looked up in.
_NAMED_PARTS = {
    "model": ("models",),
    "prior": ("priors",),
    "guide": ("guides",),
    "likelihood": ("likelihoods",),
    "data": ("datasets",),
    "network": ("encoders", "decoders"),
}


def plugin_records(config: dict, records: list[dict] | None = None) -> list[dict]:
    """What a run of ``config`` needs: the plug-ins it names (``records``, when
    :func:`use_plugins` has already loaded them), and the plug-in module behind every part it
    uses (an installed entry point's, say), as records for its config.json."""
    records = list(use_plugins(config.get("plugins")) if records is None else records)
    registries = all_registries()
    for key, kinds in _NAMED_PARTS.items():
        name = config.get(key)
        for k in kinds:
            if isinstance(name, str) and name in registries[k]:
                _add_origin(records, registries[k].origin(name))
    return records


def _add_origin(records: list[dict], origin: str) -> None:
    """Append the record of the plug-in module ``origin`` unless it is pgm's or already there."""
    if not origin or origin == "pgm" or origin.startswith("pgm."):
        return
    if any(origin == r["module"] or origin.startswith(r["module"] + ".") for r in records):
        return
    module = sys.modules.get(origin)
    if module is not None:
        records.append({"plugin": None, **plugins.module_record(module)})
