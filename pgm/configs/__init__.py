"""The shipped configs, package data read with :mod:`importlib.resources`: one example per
model (``NAME.toml``) and the literature's recipes (``papers/ROW.toml``, read by
``pgm reproduce``).

A command line names one by its name or its path in the repository, from anywhere and from an
installed wheel alike: ``vae-digits``, ``vae-digits.toml``, ``configs/vae-digits.toml``,
``papers/pixelcnn``; a file that exists at the path given is always the user's own, and wins.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["example_names", "recipe_folder", "resolve_config_path", "shipped_config"]


def _folder() -> Path:
    # a regular (not zipped) install: the package's folder is a real one
    return Path(str(files(__name__)))


def recipe_folder() -> Path:
    """The folder of the literature's recipes (``papers/ROW.toml``)."""
    return _folder() / "papers"


def example_names() -> list[str]:
    """The shipped examples' names (``vae-digits``, ...), sorted; recipes not included."""
    return sorted(p.stem for p in _folder().glob("*.toml"))


def shipped_config(name: str) -> Path | None:
    """The shipped config ``name`` names (an example first, then a recipe), or None."""
    stem = name.removeprefix("configs/").removesuffix(".toml")
    # a name, not a path: ./x, /x, a/../x and a//x name the user's files, never ours
    if not stem or "\\" in stem or any(part in ("", ".", "..") for part in stem.split("/")):
        return None
    for candidate in (_folder() / f"{stem}.toml", recipe_folder() / f"{stem}.toml"):
        if candidate.is_file():
            return candidate
    return None


def resolve_config_path(arg: str) -> str:
    """``arg`` itself when it is a file (the user's own), else the shipped config it names (even
    where a folder has that name, e.g. a run named after its example). A bare name (no folder,
    no suffix) or "" that names neither is refused listing the shipped examples; anything else
    is returned unchanged (the loader then refuses it in one line)."""
    path = Path(arg)
    if arg and path.exists() and not path.is_dir():
        return arg  # the user's own file (a FIFO or device is left to the loader to refuse)
    found = shipped_config(arg)
    if found is not None:
        return str(found)  # before a folder of that name (a run named after its example)
    if arg and path.is_dir():
        return arg  # the loader says it is a folder
    if not arg or ("/" not in arg and "\\" not in arg and not path.suffix):
        from ..errors import PgmError

        raise PgmError(
            f"config: expected a TOML file or a shipped example ({', '.join(example_names())}; "
            f"paper recipes run with `pgm reproduce ROW`); found neither: {arg!r}"
        )
    return arg
