"""Checks for user-supplied settings: each error names the argument, what was expected and what
was found."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import PgmError

__all__ = [
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "check_shape",
    "check_unique",
    "broken_link",
    "short_repr",
    "what_is",
]


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: what an error message shows of a value it
    found (a 300 MB value was once printed whole)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def check_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PgmError(f"{name}: expected an integer; found {value!r}")
    if minimum is not None and value < minimum:
        raise PgmError(f"{name}: expected an integer >= {minimum}; found {value!r}")
    if maximum is not None and value > maximum:
        raise PgmError(f"{name}: expected an integer <= {maximum}; found {value!r}")
    return value


def check_float(
    value: Any, name: str, minimum: float | None = None, exclusive_minimum: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PgmError(f"{name}: expected a number; found {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise PgmError(f"{name}: expected a finite number; found {value!r}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        op = ">" if exclusive_minimum else ">="
        raise PgmError(f"{name}: expected a number {op} {minimum}; found {value!r}")
    return float(value)


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise PgmError(f"{name}: expected true or false; found {value!r}")
    return value


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    if value not in choices:
        raise PgmError(f"{name}: expected one of {', '.join(choices)}; found {value!r}")
    return value


def check_shape(value: Any, name: str) -> tuple[int, ...]:
    ok = (
        isinstance(value, (list, tuple))
        and len(value) in (1, 3)
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    )
    if not ok:
        raise PgmError(
            f"{name}: expected [C, H, W] (or [D] for vectors) of positive integers; found {value!r}"
        )
    return tuple(value)


def check_unique(
    values: Iterable[Any], name: str, what: str = "each", keys: Iterable | None = None
) -> None:
    """Refuse ``values`` in which one is given more than once (compared by ``keys``, one per
    value, when given: a resolved path, say), naming ``name`` and the first repeated value as
    given: ``NAME: expected each once; found 'x' more than once``. Linear in their number."""
    values = list(values)
    seen: set = set()
    for value, key in zip(values, values if keys is None else list(keys), strict=True):
        if key in seen:
            found = short_repr(value)
            raise PgmError(f"{name}: expected {what} once; found {found} more than once")
        seen.add(key)


def what_is(path: str | Path) -> str:
    """What ``path`` is, in words for a message ("a file", "a FIFO", ...), following links."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return f"a broken link to {os.readlink(path)}" if os.path.islink(path) else "nothing"
    for test, words in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a file"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return words
    return "something other than a file or folder"


def broken_link(path: str | Path) -> Path | None:
    """``path`` or the nearest of its parents that is a link to nothing, else None."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.is_symlink() and not p.exists():
            return p
        if p.exists():
            return None  # an existing folder's parents exist
    return None
