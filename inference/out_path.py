"""Checking an output path (``--out``) before anything is written: names the file system can
hold (a longer one makes even ``Path.exists`` fail), never a run's own files or its
``checkpoints/`` (one check every command with ``--out`` uses), and names that are safe as file
names (labels, rows); errors name the argument."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from pgm.validation import broken_link, what_is

from .config import ConfigError

__all__ = [
    "RUN_FILES",
    "check_file_out",
    "check_folder_out",
    "check_name",
    "broken_link",
    "check_out_path",
    "enclosing_run",
    "is_run_folder",
    "make_folders",
    "os_error_text",
    "remove_created",
    "what_is",
]

#: The files ``pgm train`` writes into a run folder (with ``checkpoints/``): no command's
#: ``--out`` may name one of them.
RUN_FILES = ("config.json", "model.safetensors", "metrics.jsonl", ".pgm-lock")

#: A name that is safe as a file name on its own: letters, digits, ``.``, ``_``, ``+``, ``-``,
#: not starting with a dot or a dash, at most 100 characters.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,99}")


def _limit(name: str, default: int) -> int:
    try:
        return os.pathconf("/", name)
    except (OSError, ValueError, AttributeError):
        return default


def check_out_path(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a Path, or a one-line :class:`ConfigError` naming ``flag`` when one of its
    names, or the whole path, is longer than the file system allows, or it is a broken link."""
    path = Path(path)
    name_max, path_max = _limit("PC_NAME_MAX", 255), _limit("PC_PATH_MAX", 4096)
    long = [part for part in path.parts if len(os.fsencode(part)) > name_max]
    if long:
        raise ConfigError(
            f"{flag}: expected names of at most {name_max} bytes; found one of "
            f"{len(os.fsencode(long[0]))} bytes ({long[0][:20]}...)"
        )
    if len(os.fsencode(str(path.absolute()))) >= path_max:
        raise ConfigError(f"{flag}: expected a path shorter than {path_max} bytes; found {path}")
    broken = broken_link(path)
    if broken is not None:  # mkdir said "File exists"; a file replaced the link
        raise ConfigError(
            f"{flag}: expected a folder or file, or a path to create; found a broken link: "
            f"{broken} -> {os.readlink(broken)}"
        )
    return path


def os_error_text(err: OSError) -> str:
    """An operating-system error's reason without Python's ``[Errno N]`` prefix."""
    return err.strerror or type(err).__name__


def make_folders(folder: Path, created: list[Path]) -> None:
    """Create ``folder`` and its missing parents, appending each one made to ``created`` (so a
    caller that fails later, or on an error here, can undo them with :func:`remove_created`)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir()
        created.append(folder)


def remove_created(created: list[Path]) -> None:
    """Remove folders a command created, deepest first, while they are empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            break  # not empty (the command's output, or someone else's): leave it


def check_name(name: object, flag: str, what: str = "a name") -> str:
    """``name`` when it is safe to use as a file name in a folder pgm writes (no ``/``, no
    ``..``, no leading dot or dash, at most 100 characters), else a one-line
    :class:`ConfigError` naming ``flag``."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
        raise ConfigError(
            f"{flag}: expected {what} of letters, digits, '.', '_', '+', '-' (at most 100, not "
            f"starting with '.' or '-'); found {name!r}"
        )
    return name


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a run written by ``pgm train`` (its ``config.json`` and its
    weights or checkpoints)."""
    try:
        return (folder / "config.json").is_file() and (
            (folder / "model.safetensors").is_file() or (folder / "checkpoints").is_dir()
        )
    except OSError:
        return False


def enclosing_run(path: Path) -> Path | None:
    """The run folder that is ``path`` or holds it (through any depth), else None."""
    for folder in (path, *path.parents):
        if is_run_folder(folder):
            return folder
    return None


def _forms(path: Path) -> list[Path]:
    """``path`` as written (absolute) and with its links resolved: both must pass a check."""
    return [path.absolute(), path.resolve()]


def check_file_out(path: str | Path, flag: str = "--out") -> Path:
    """An output file's path, checked before anything runs: refused in one line when it names
    one of a run's own files (:data:`RUN_FILES`, any other file but a PNG at a run folder's
    top, anything under its ``checkpoints/`` or ``tensorboard/`` log), also through a symbolic
    link."""
    path = check_out_path(path, flag)
    try:
        mode = os.stat(path).st_mode  # through links: /dev/stdout is one to a pipe or a tty
    except OSError:
        mode = None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ConfigError(
            f"{flag}: expected a new file or a regular one to replace (files are written "
            f"whole, then renamed into place); found {path}, {what_is(path)}"
        )
    for form in _forms(path):
        run = enclosing_run(form.parent)
        if run is None:
            continue
        inside = form.relative_to(run).parts
        own = inside[0] in ("checkpoints", "tensorboard") or (
            len(inside) == 1
            and (form.name in RUN_FILES or (form.exists() and form.suffix.lower() != ".png"))
        )
        if own:
            raise ConfigError(
                f"{flag}: expected a new file or a PNG beside a run's own files; found {path}, "
                f"one of the files of the run {run} (choose another path)"
            )
    return path


def check_folder_out(
    out: str | Path,
    flag: str = "--out",
    runs: list[str | Path] = (),
    holds_runs: bool = False,
) -> Path:
    """An output folder's path (a report, a suite), checked before anything runs: refused in
    one line when it is a run folder or lies inside one (its ``checkpoints/`` included), is the
    folder that holds one of ``runs``, or (unless ``holds_runs``) holds run folders itself."""
    out = check_out_path(out, flag)
    if out.exists() and not out.is_dir():  # said for what it is, not "out/row refused"
        raise ConfigError(f"{flag}: expected a folder; found {what_is(out)}: {out}")
    for form in _forms(out):
        run = enclosing_run(form)
        if run is not None:
            raise ConfigError(
                f"{flag}: expected a folder apart from any run; found {out}, "
                + ("a run folder" if run == form else f"inside the run {run}")
                + " (its files would mix with the run's own; choose another folder)"
            )
        for r in runs:
            if Path(r).absolute().parent in (form, form.resolve()) or (
                Path(r).resolve().parent == form
            ):
                raise ConfigError(
                    f"{flag}: expected a folder apart from the runs compared; found {out}, the "
                    f"folder that holds {r} (choose another folder)"
                )
        if not holds_runs and form.is_dir():
            held = next((p for p in sorted(form.iterdir()) if is_run_folder(p)), None)
            if held is not None:
                raise ConfigError(
                    f"{flag}: expected a folder apart from any run; found {out}, which holds the "
                    f"run {held} (choose another folder)"
                )
    return out
