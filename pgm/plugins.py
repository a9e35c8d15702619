"""Plug-ins: a user's own parts and models, registered with the decorators the built-ins use.

A plug-in is a Python module whose import registers names (``@pgm.PRIORS.register(...)``,
``@pgm.register_model(...)``, ...). A part's factory takes the resolved config alone,
``factory(cfg) -> nn.Module``, and the module keeps its protocol of :mod:`pgm.parts`.

The trust boundary: pgm imports only code its user named, in one of three ways:

- on the command line, ``--plugin my_models`` or ``--plugin path/to/my_models.py`` (every
  command; a relative path is read from the working directory, where it was typed);
- in their own config file, ``plugins = ["my_models", "path/to/my_models.py"]`` (a relative
  path is read from the config file's folder, never from the working directory);
- by installing a package with an entry point in the group ``pgm.plugins``
  (``[project.entry-points."pgm.plugins"] my_models = "my_package.models"``), loaded at the
  first registry lookup; an entry point naming a callable is called after the import.

In Python, ``pgm.load_plugins(...)`` is the command line (a relative path: the working
directory); a ``plugins`` list inside a config dict takes module names and absolute paths only.
A run's record of its plug-ins (:mod:`pgm.run_plugins`) never imports anything: it is checked
against what the user named, by sha256, before that is imported.

A file ``my_models.py`` is imported as the module ``my_models``: it may not take the name of
a module already imported, installed or in the standard library (``--plugin html.py``).
A plug-in that fails on import (an exception, a syntax error, ``sys.exit``) is refused in one
line naming it, and what it registered before failing is taken back; an installed entry point
that fails gives one :class:`PluginWarning` line and pgm keeps working.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import PgmError, PgmWarning
from .registry import add_lookup_hook, all_registries

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "PluginWarning",
    "code_sha256",
    "is_path",
    "load_entry_points",
    "load_named",
    "load_plugin",
    "module_name",
    "module_record",
    "name_plugins",
    "named_spec",
    "normalise_spec",
    "restore",
    "snapshot",
]

ENTRY_POINT_GROUP = "pgm.plugins"


class PluginError(PgmError):
    """A plug-in that cannot be loaded: the message names it, and what was found instead."""


class PluginWarning(PgmWarning):
    """An installed entry point that fails to load (the rest of pgm keeps working)."""


_LOADED: dict[str, ModuleType] = {}  # normalised spec -> module
_SHA: dict[str, str] = {}  # module name -> sha256 of the code that was run for it
_PENDING: dict[str, str] = {}  # normalised spec named but not imported yet -> its argument
_ENTRY_POINTS: dict[str, dict[str, Any]] = {}  # module name -> what the entry point was
_state = {"entry_points": False, "loading": False}


def is_path(spec: str) -> bool:
    """Whether a plug-in spec is a file path (``.py``, or with a slash) rather than a module."""
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def module_name(spec: str) -> str:
    """The module a normalised spec imports as: a file's stem, or the module name itself."""
    return Path(spec).stem if is_path(spec) else spec


def normalise_spec(
    spec: Any, argument: str = "plugins", base: str | Path | None = None, cwd: bool = False
) -> str:
    """A module name as given, or a ``.py`` path made absolute: against ``base`` (a config
    file's folder), or the working directory when ``cwd`` (a path typed on a command line);
    a relative path with neither is refused (it would depend on where pgm happens to run)."""
    if not isinstance(spec, str) or not spec.strip():
        raise PluginError(
            f"{argument}: expected an importable module name or a path to a .py file; "
            f"found {spec!r}"
        )
    spec = spec.strip()
    if is_path(spec):
        path = Path(spec).expanduser()
        if not path.is_absolute():
            if base is None and not cwd:
                raise PluginError(
                    f"{argument}: expected a module name or an absolute path to a .py file "
                    f"(relative paths are read from a config file's folder, or from the working "
                    f"directory on the command line); found {spec!r}"
                )
            path = Path(base if base is not None else Path.cwd()) / path
        return str(path.resolve())
    if not all(part.isidentifier() for part in spec.split(".")):
        raise PluginError(
            f"{argument}: expected an importable module name (like my_models or pkg.models) or a "
            f"path to a .py file; found {spec!r}"
        )
    return spec


def code_sha256(spec: str) -> str | None:
    """The sha256 of the code ``spec`` would import, read without importing it: the file's
    bytes, or a top-level module's source file (None where there is none to read)."""
    if is_path(spec):
        path = Path(spec)
    else:
        loaded = sys.modules.get(spec)
        if loaded is not None:
            return loaded_sha256(loaded)
        try:
            found = importlib.util.find_spec(spec) if "." not in spec else None
        except (ImportError, ValueError):
            found = None
        if found is None or not found.origin or not Path(found.origin).is_file():
            return None
        path = Path(found.origin)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def loaded_sha256(module: ModuleType) -> str | None:
    """The sha256 of the code a loaded module ran (its file when pgm did not import it)."""
    if module.__name__ in _SHA:
        return _SHA[module.__name__]
    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _check_file(path: str, argument: str) -> None:
    """Refuse, without importing it, a plug-in file that cannot be one, or whose module name
    would replace another module (imported already, installed, or the standard library's)."""
    file = Path(path)
    if not file.is_file():
        found = "a folder" if file.is_dir() else "no file"
        raise PluginError(f"{argument}: expected a .py file; found {found} {path}")
    name = file.stem
    if file.suffix != ".py":
        raise PluginError(f"{argument}: expected a .py file; found {path}")
    if not name.isidentifier():
        raise PluginError(
            f"{argument}: expected a file named like a Python module (my_models.py); found {path}"
        )
    loaded = sys.modules.get(name)
    if loaded is not None:
        where = getattr(loaded, "__file__", None)
        if where is not None and Path(where).resolve() == file:
            return
        if loaded_sha256(loaded) == hashlib.sha256(file.read_bytes()).hexdigest():
            return  # the very code already loaded, from a copy elsewhere
        raise PluginError(
            f"{argument}: expected {path} to be a new module {name!r}; found a module of that "
            f"name already imported from {where or 'Python itself'} (rename the file)"
        )
    other = None
    if name in sys.stdlib_module_names:
        other = "the standard library"
    else:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is not None and (found.origin is None or Path(found.origin).resolve() != file):
            other = found.origin or "an installed package"
    if other:
        raise PluginError(
            f"{argument}: expected {path} to be a new module {name!r}; found a module of that "
            f"name in {other}, which it would replace (rename the file)"
        )


def name_plugins(
    specs: Any, argument: str = "--plugin", base: str | Path | None = None, cwd: bool = True
) -> list[str]:
    """Name plug-ins a user typed (``--plugin``; relative paths: the working directory, or
    refused when not ``cwd``) or wrote in their config file (``base``: its folder): checked
    for form now, imported at the first registry lookup or once a run's records have been
    checked against them, whichever comes first. Returns the normalised specs."""
    if specs is None:
        return []
    if isinstance(specs, (str, dict)) or not isinstance(specs, (list, tuple)):
        raise PluginError(
            f'{argument}: expected a list of module names or .py paths (e.g. ["my_models"]); '
            f"found {specs!r}"
        )
    named = []
    for spec in specs:
        spec = normalise_spec(spec, argument, base, cwd=cwd)
        if is_path(spec):
            _check_file(spec, argument)
        if spec not in _LOADED:
            _PENDING.setdefault(spec, argument)
        named.append(spec)
    return named


def named_spec(module: str) -> str | None:
    """The spec the user named that imports (or imported) as ``module``, if any."""
    for spec in [*_PENDING, *_LOADED]:
        if module_name(spec) == module:
            return spec
    return None


def load_named() -> list[dict[str, Any]]:
    """Import the installed entry points and every plug-in the user named, each once (the
    registries call this before each lookup). Returns the records of the named ones."""
    if _state["loading"]:
        return []  # a plug-in looking a name up while it is imported
    load_entry_points()
    records = []
    while _PENDING:
        spec, argument = next(iter(_PENDING.items()))
        records.append(load_plugin(spec, argument))
    return records


def _registered() -> dict[str, frozenset[str]]:
    return {kind: reg.names() for kind, reg in all_registries().items()}


def _run_import(spec: str, argument: str, loader: Callable[[], ModuleType]) -> ModuleType:
    """``loader()``, once. Any failure (an exception, a syntax error, ``sys.exit``) takes back
    the names the plug-in registered and is refused in one line naming the plug-in and the
    line; Ctrl-C stays an interrupt."""
    before = _registered()
    _state["loading"] = True
    try:
        # what a plug-in prints while it is imported (a banner) goes to stderr: stdout is the
        # command's answer (`--json` is one JSON document that a banner made unreadable)
        with contextlib.redirect_stdout(sys.stderr):
            return loader()
    except BaseException as err:
        for kind, reg in all_registries().items():
            for added in reg.names() - before[kind]:
                reg.unregister(added)
        if isinstance(err, KeyboardInterrupt):
            raise
        raise PluginError(_failure(err, spec, argument)) from None
    finally:
        _state["loading"] = False


def _failure(err: BaseException, spec: str, argument: str) -> str:
    """One line: which plug-in failed, how, and where."""
    if isinstance(err, PluginError):
        return str(err)
    if isinstance(err, PgmError):  # e.g. a name that is registered already
        return f"{argument}: expected {spec} to load; found: {err}"
    if isinstance(err, SyntaxError) and err.filename == spec:
        found = f"{err.msg} (line {err.lineno})"
        return f"{argument}: expected {spec} to be valid Python; found {found}"
    if isinstance(err, SystemExit):
        return (
            f"{argument}: expected {spec} to import cleanly; found it calling "
            f"sys.exit({err.code!r}){_where(err, spec)}"
        )
    if isinstance(err, ModuleNotFoundError) and err.name and not is_path(spec):
        if spec == err.name or spec.startswith(err.name + "."):
            return (
                f"{argument}: expected an importable module or a path to a .py file; found no "
                f"module named {spec!r} (install it, or give the path to its .py file)"
            )
    first = (str(err).splitlines() or [""])[0]
    return (
        f"{argument}: expected {spec} to import cleanly; found {type(err).__name__}: "
        f"{first}{_where(err, spec)}"
    )


def _where(err: BaseException, spec: str) -> str:
    """`` (line N)``: the last line of the plug-in's file in ``err``'s traceback, if any."""
    line = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == spec:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line is not None else ""


def _load_file(path: str, argument: str) -> ModuleType:
    """Import the file as the module of its stem: exactly the bytes that were hashed."""
    _check_file(path, argument)
    name = Path(path).stem
    if name in sys.modules:
        return sys.modules[name]
    source = Path(path).read_bytes()
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)

    def run() -> ModuleType:
        sys.modules[name] = module
        try:
            exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102  (a named plug-in)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module

    loaded = _run_import(path, argument, run)
    _SHA[name] = hashlib.sha256(source).hexdigest()
    return loaded


def load_plugin(spec: str, argument: str = "plugins") -> dict[str, Any]:
    """Import the plug-in ``spec`` (a module name, or an absolute ``.py`` path) once, now; its
    record. Only for what a user named: a run's records are checked, never loaded."""
    spec = normalise_spec(spec, argument)
    _PENDING.pop(spec, None)  # tried once: a failure is reported now, not at every lookup
    if spec not in _LOADED:
        if is_path(spec):
            module = _load_file(spec, argument)
        elif spec in sys.modules:
            module = sys.modules[spec]
        else:
            sha = code_sha256(spec)
            module = _run_import(spec, argument, lambda: importlib.import_module(spec))
            if sha is not None:
                _SHA[spec] = sha
        _LOADED[spec] = module
    return {"plugin": spec, **module_record(_LOADED[spec])}


def _version(module: ModuleType) -> str | None:
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    return _distribution_version(module.__name__.split(".")[0])


@functools.cache
def _distribution_version(top: str) -> str | None:
    """The version of the installed distribution providing package ``top``."""
    try:
        dists = importlib.metadata.packages_distributions().get(top, [])
        return importlib.metadata.version(dists[0]) if dists else None
    except (importlib.metadata.PackageNotFoundError, OSError):
        return None


def module_record(module: ModuleType) -> dict[str, Any]:
    """``{"module", "file", "sha256", "version"}`` (and the entry point, if one loaded it)."""
    path = getattr(module, "__file__", None)
    record = {
        "module": module.__name__,
        "file": str(Path(path).resolve()) if path else None,
        "sha256": loaded_sha256(module),
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
    e.g. after installing a package). A broken one (an exception, ``sys.exit``) gives one
    :class:`PluginWarning` line, not an error: pgm and the other plug-ins keep working."""
    if _state["entry_points"] and not force:
        return list(_ENTRY_POINTS.values())
    pgm = sys.modules.get("pgm")
    if pgm is None or not getattr(pgm, "__all__", None):
        return []  # pgm itself is still being imported: a plug-in could not import it yet
    _state["entry_points"] = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module = ep.value.split(":")[0].strip()
        if module in _ENTRY_POINTS:
            continue
        dist = getattr(ep, "dist", None)
        entry = {
            "entry_point": f"{ep.name} = {ep.value}",
            "distribution": getattr(dist, "name", None),
            "version": getattr(dist, "version", None),
        }

        def load(ep=ep) -> ModuleType:
            loaded = ep.load()
            if ep.attr and callable(loaded):
                loaded()
            return sys.modules.get(ep.module)

        try:
            _run_import(f"{ep.name} = {ep.value}", "entry point", load)
        except PluginError as err:
            reason = str(err).split("; found ", 1)[-1]
            warnings.warn(
                f"plug-in entry point {ep.name} = {ep.value} ({entry['distribution']}) failed to "
                f"load ({reason}); its parts are unavailable",
                PluginWarning,
                stacklevel=2,
            )
            continue
        _ENTRY_POINTS[module] = entry
    return list(_ENTRY_POINTS.values())


def snapshot() -> dict[str, Any]:
    """What is loaded and registered now, for :func:`restore` (tests, notebooks)."""
    return {
        "names": _registered(),
        "loaded": dict(_LOADED),
        "sha": dict(_SHA),
        "entry_points": dict(_ENTRY_POINTS),
        "state": dict(_state),
    }


def restore(saved: dict[str, Any]) -> None:
    """Forget every plug-in loaded or named since :func:`snapshot` gave ``saved``: the names
    it registered, its module (so the next import runs it again), and pending names."""
    for kind, reg in all_registries().items():
        for name in reg.names() - saved["names"][kind]:
            reg.unregister(name)
    kept = {m.__name__ for m in saved["loaded"].values()} | set(saved["entry_points"])
    for name in {m.__name__ for m in _LOADED.values()} | set(_ENTRY_POINTS):
        if name not in kept:
            sys.modules.pop(name, None)
    for table, key in ((_LOADED, "loaded"), (_SHA, "sha"), (_ENTRY_POINTS, "entry_points")):
        table.clear()
        table.update(saved[key])
    _state.update(saved["state"])
    _PENDING.clear()


add_lookup_hook(load_named)
