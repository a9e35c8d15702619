"""Plug-ins: a user's own parts and models, registered with the decorators the built-ins use.

A plug-in is a Python module whose import registers names (``@pgm.PRIORS.register(...)``,
``@pgm.register_model(...)``, ...). A part's factory takes the resolved config alone,
``factory(cfg) -> nn.Module``, and the module keeps its protocol of :mod:`pgm.parts` (a prior's
``forward() -> p(z)``, a guide's ``forward(x) -> q(z | x)``, a likelihood's
``forward(z) -> p(x | z)``); a part that does not is refused in one line when the model is
built. It is named in one of three ways:

- in a config, ``plugins = ["my_models", "path/to/my_models.py"]``: an importable module
  name, or a path to a ``.py`` file (relative paths in a TOML file are read from the file's
  folder; elsewhere from the working directory);
- on the command line, ``--plugin my_models`` (repeatable, every command);
- by an installed package, through the entry-point group ``pgm.plugins``
  (``[project.entry-points."pgm.plugins"] my_models = "my_package.models"``); these are
  imported once, at the first registry lookup. An entry point naming a callable
  (``"my_package.models:register"``) is called with no arguments after the import.

A file ``my_models.py`` is imported as the module ``my_models``: one module per name per
process, as for any Python import. A run records, in its config's ``plugins``, what it needs:
``{"plugin", "module", "file", "sha256", "version", "entry_point"}`` for every plug-in named
and every plug-in module that registered a part the config uses. Loading a run whose plug-in
is missing raises :class:`PluginError` in one line; one whose file changed since training
gives a :class:`PluginWarning`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import PgmError
from .registry import all_registries

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "PluginWarning",
    "load_entry_points",
    "load_plugin",
    "normalise_spec",
    "plugin_records",
    "use_plugins",
]

ENTRY_POINT_GROUP = "pgm.plugins"


class PluginError(PgmError):
    """A plug-in that cannot be loaded: the message names it, and what was found instead."""


class PluginWarning(UserWarning):
    """A plug-in that loads but differs from the one a run was trained with, or an installed
    entry point that fails to load (the rest of pgm keeps working)."""


_LOADED: dict[str, ModuleType] = {}  # normalised spec -> module
_ENTRY_POINTS: dict[str, dict[str, Any]] = {}  # module name -> what the entry point was
_entry_points_state = {"loaded": False}
_WARNED: set[tuple] = set()


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def normalise_spec(spec: Any, argument: str = "plugins", base: str | Path | None = None) -> str:
    """A module name as given, or a ``.py`` path made absolute (against ``base`` when given)."""
    if not isinstance(spec, str) or not spec.strip():
        raise PluginError(
            f"{argument}: expected an importable module name or a path to a .py file; "
            f"found {spec!r}"
        )
    spec = spec.strip()
    if _is_path(spec):
        path = Path(spec).expanduser()
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return str(path.resolve())
    if not all(part.isidentifier() for part in spec.split(".")):
        raise PluginError(
            f"{argument}: expected an importable module name (like my_models or pkg.models) or a "
            f"path to a .py file; found {spec!r}"
        )
    return spec


def _sha256(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _version(module: ModuleType) -> str | None:
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    return _distribution_version(module.__name__.split(".")[0])


@functools.cache
def _distribution_version(top: str) -> str | None:
    """The version of the installed distribution providing package ``top`` (scanning every
    installed distribution once per name: a config is resolved several times per command)."""
    try:
        dists = importlib.metadata.packages_distributions().get(top, [])
        return importlib.metadata.version(dists[0]) if dists else None
    except (importlib.metadata.PackageNotFoundError, OSError):
        return None


def _registered_names() -> dict[str, set[str]]:
    return {kind: set(reg._entries) for kind, reg in all_registries().items()}


def _import(name: str, loader) -> ModuleType:
    """Run ``loader()``; if it fails half-way, take back the names it registered, so a fixed
    plug-in can be loaded again in the same process."""
    before = _registered_names()
    try:
        return loader()
    except BaseException:
        for kind, reg in all_registries().items():
            for added in set(reg._entries) - before[kind]:
                reg.unregister(added)
        raise


def _load_file(path: str) -> ModuleType:
    name = Path(path).stem
    if name in sys.modules:
        loaded = getattr(sys.modules[name], "__file__", None)
        same = loaded is not None and Path(loaded).resolve() == Path(path)
        if same or not Path(path).is_file():  # e.g. --plugin gave its new place
            return sys.modules[name]
        raise PluginError(
            f"plugins: expected {path} to be the module {name!r}; found a module of that name "
            f"already imported from {loaded} (rename the file)"
        )
    if not Path(path).is_file():
        raise PluginError(f"plugins: expected a .py file; found no file {path}")
    if Path(path).suffix != ".py":
        raise PluginError(f"plugins: expected a .py file; found {path}")
    if not name.isidentifier():
        raise PluginError(
            f"plugins: expected a file named like a Python module (my_models.py); found {path}"
        )
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module

    def run() -> ModuleType:
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module

    return _import(name, run)


def _load_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    try:
        return _import(name, lambda: importlib.import_module(name))
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(err.name + ".")):
            raise PluginError(
                f"plugins: expected an importable module or a path to a .py file; found no "
                f"module named {name!r} (install it, or give the path to its .py file)"
            ) from None
        raise PluginError(
            f"plugins: plug-in {name!r} needs the module {err.name!r}, which is not installed"
        ) from None


def load_plugin(spec: str, argument: str = "plugins") -> dict[str, Any]:
    """Import the plug-in ``spec`` (a module name or a ``.py`` path) once; its record."""
    spec = normalise_spec(spec, argument)
    if spec not in _LOADED:
        try:
            _LOADED[spec] = _load_file(spec) if _is_path(spec) else _load_module(spec)
        except PluginError as err:
            raise PluginError(str(err).replace("plugins:", f"{argument}:", 1)) from None
        except PgmError as err:  # e.g. a name that is registered already
            raise PluginError(f"{argument}: expected {spec} to load; found: {err}") from None
        except SystemExit as err:  # would end pgm with the plug-in's status, silently
            raise PluginError(
                f"{argument}: expected {spec} to import cleanly; found it calling "
                f"sys.exit({err.code!r}){_where(err, spec)}"
            ) from None
    return {"plugin": spec, **_module_record(_LOADED[spec])}


def _where(err: BaseException, spec: str) -> str:
    """`` (line N)``: the last line of the plug-in's file in ``err``'s traceback, if any."""
    line = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == spec:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line is not None else ""


def _module_record(module: ModuleType) -> dict[str, Any]:
    path = getattr(module, "__file__", None)
    record = {
        "module": module.__name__,
        "file": str(Path(path).resolve()) if path else None,
        "sha256": _sha256(path),
        "version": _version(module),
    }
    entry = _entry_point_of(module.__name__)
    if entry:
        record.update(entry)
    return record


def _entry_point_of(module: str) -> dict[str, Any] | None:
    for name, entry in _ENTRY_POINTS.items():
        if module == name or module.startswith(name + "."):
            return entry
    return None


def load_entry_points(force: bool = False) -> list[dict[str, Any]]:
    """Import every installed ``pgm.plugins`` entry point, once per process (``force``: again,
    e.g. after installing a package). A broken one gives a :class:`PluginWarning`, not an
    error: pgm and the other plug-ins keep working. Returns what was loaded."""
    if _entry_points_state["loaded"] and not force:
        return list(_ENTRY_POINTS.values())
    pgm = sys.modules.get("pgm")
    if pgm is None or not getattr(pgm, "__all__", None):
        return []  # pgm itself is still being imported: a plug-in could not import it yet
    _entry_points_state["loaded"] = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module_name = ep.value.split(":")[0].strip()
        if module_name in _ENTRY_POINTS:
            continue
        dist = getattr(ep, "dist", None)
        entry = {
            "entry_point": f"{ep.name} = {ep.value}",
            "distribution": getattr(dist, "name", None),
            "version": getattr(dist, "version", None),
        }
        try:
            loaded = _import(module_name, ep.load)
            if ep.attr and callable(loaded):
                loaded()
        except Exception as err:  # a broken installed package must not break pgm
            first = (str(err).splitlines() or [""])[0]
            warnings.warn(
                f"plug-in entry point {ep.name} = {ep.value} ({entry['distribution']}) failed to "
                f"load ({type(err).__name__}: {first}); its parts are unavailable",
                PluginWarning,
                stacklevel=2,
            )
            continue
        _ENTRY_POINTS[module_name] = entry
    return list(_ENTRY_POINTS.values())


def _describe(record: dict) -> str:
    what = record.get("plugin") or record.get("entry_point") or record.get("module")
    extra = [f"version {record['version']}"] if record.get("version") else []
    extra += [f"sha256 {record['sha256'][:12]}"] if record.get("sha256") else []
    return f"{what!r}" + (f" ({', '.join(extra)})" if extra else "")


def _load_record(record: dict, argument: str) -> dict[str, Any]:
    """Load what a saved run needs; warn when the file differs from the one it was trained with."""
    if not isinstance(record, dict) or not isinstance(record.get("module"), str):
        raise PluginError(f"{argument}: expected plug-in records with a 'module'; found {record!r}")
    module = record["module"]
    try:
        if module == "__main__":
            return dict(record)  # a script's own registrations: nothing to import
        loaded = sys.modules.get(module)
        if loaded is not None and record.get("sha256"):
            same = _module_record(loaded)
            if same["sha256"] == record["sha256"]:
                # the very code the run was trained with, already loaded (e.g. by --plugin from
                # a copy elsewhere): use it rather than the recorded path
                return {"plugin": same["file"], **same}
        if record.get("plugin"):
            current = load_plugin(record["plugin"], argument)
        else:
            if record.get("entry_point"):
                load_entry_points()
            if module not in sys.modules and record.get("entry_point"):
                raise PluginError(
                    f"the installed package providing {record['entry_point']!r} is missing"
                )
            current = {"plugin": None, **_module_record(_load_module(module))}
    except PluginError as err:
        reason = str(err).split(": ", 1)[-1]
        raise PluginError(
            f"{argument}: expected plug-in {_describe(record)}, which this run needs; it cannot be "
            f"loaded here: {reason} (install it, or pass --plugin PATH)"
        ) from None
    changed = (module, record.get("sha256"), current.get("sha256"))
    if (
        record.get("sha256")
        and current.get("sha256")
        and changed[1] != changed[2]
        and changed not in _WARNED
    ):
        _WARNED.add(changed)  # once per process, however many times the run's config is read
        warnings.warn(
            f"plug-in {module!r}: {current['file']} changed since the run was trained (sha256 "
            f"{record['sha256'][:12]} then, {current['sha256'][:12]} now); its results may not "
            "reproduce",
            PluginWarning,
            stacklevel=3,
        )
    return current


def use_plugins(
    items: Any, argument: str = "plugins", base: str | Path | None = None
) -> list[dict]:
    """Load every plug-in of a config's ``plugins`` value: names and paths as a user writes
    them, or the records a run saved. Returns their records, in order, without repeats."""
    if items is None:
        return []
    if isinstance(items, (str, dict)) or not isinstance(items, (list, tuple)):
        raise PluginError(
            f'{argument}: expected a list of module names or .py paths (e.g. ["my_models"]); '
            f"found {items!r}"
        )
    records: list[dict] = []
    for item in items:
        if isinstance(item, dict):
            record = _load_record(item, argument)
        else:
            record = load_plugin(normalise_spec(item, argument, base), argument)
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
        origins = [
            registries[k].origin(name)
            for k in kinds
            if isinstance(name, str) and name in registries[k]
        ]
        for origin in origins:
            _add_origin(records, origin)
    return records


def _add_origin(records: list[dict], origin: str) -> None:
    """Append the record of the plug-in module ``origin`` unless it is pgm's or already there."""
    if not origin or origin == "pgm" or origin.startswith("pgm."):
        return
    if any(origin == r["module"] or origin.startswith(r["module"] + ".") for r in records):
        return
    module = sys.modules.get(origin)
    if module is not None:
        records.append({"plugin": None, **_module_record(module)})
