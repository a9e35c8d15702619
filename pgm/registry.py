"""Registries mapping the names used in configs and on the command line to model parts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .errors import PgmError, UnknownNameError

__all__ = ["DATASETS", "GUIDES", "LIKELIHOODS", "MODELS", "PRIORS", "Registry", "all_registries"]


class Registry:
    """A named table of factories, e.g. ``PRIORS["vamp"]`` -> the VampPrior's factory.

    Unknown names are refused with the list of valid ones, so a typo in a config file
    is answered by what the user could have written.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, doc: str | None = None) -> Callable:
        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise PgmError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = factory
            text = doc or (factory.__doc__ or "").strip().splitlines()[0:1]
            self._docs[name] = text if isinstance(text, str) else (text[0] if text else "")
            return factory

        return decorator

    def __getitem__(self, name: str) -> Callable[..., Any]:
        if not isinstance(name, str) or name not in self._entries:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; expected one of: {', '.join(sorted(self))}"
            )
        return self._entries[name]

    def check(self, name: Any, argument: str | None = None) -> str:
        """Return ``name`` if registered, else raise ``ValueError`` naming the valid ones."""
        if not isinstance(name, str) or name not in self._entries:
            raise PgmError(
                f"{argument or self.kind}: expected one of "
                f"{', '.join(sorted(self))}; found {name!r}"
            )
        return name

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def describe(self, name: str) -> str:
        return self._docs.get(name, "")


MODELS = Registry("model")
PRIORS = Registry("prior")
GUIDES = Registry("guide")
LIKELIHOODS = Registry("likelihood")
DATASETS = Registry("dataset")


def all_registries() -> dict[str, Registry]:
    return {
        "models": MODELS,
        "priors": PRIORS,
        "guides": GUIDES,
        "likelihoods": LIKELIHOODS,
        "datasets": DATASETS,
    }
