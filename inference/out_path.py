"""Checking an output path (``--out``) before anything is written: names the file system can
hold (a longer one makes even ``Path.exists`` fail); errors name the argument."""

from __future__ import annotations

import os
from pathlib import Path

from .config import ConfigError

__all__ = ["check_out_path", "make_folders", "os_error_text", "remove_created"]


def _limit(name: str, default: int) -> int:
    try:
        return os.pathconf("/", name)
    except (OSError, ValueError, AttributeError):
        return default


def check_out_path(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a Path, or a one-line :class:`ConfigError` naming ``flag`` when one of its
    names, or the whole path, is longer than the file system allows."""
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
