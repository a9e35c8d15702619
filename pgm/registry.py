"""Registries mapping the names used in configs and on the command line to model parts.

A registry knows nothing of plug-ins: before each lookup it calls the hooks given to
:func:`add_lookup_hook` (:mod:`pgm.plugins` adds the one that loads installed entry points
and the plug-ins a user named), so the two modules do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import PgmError, UnknownNameError
from .keys import Key

__all__ = [
    "DATASETS",
    "DECODERS",
    "ENCODERS",
    "GUIDES",
    "LIKELIHOODS",
    "MODELS",
    "PRIORS",
    "Registry",
    "add_lookup_hook",
    "all_registries",
]

#: called, in order, before every lookup (``pgm.plugins`` loads what the user named)
_LOOKUP_HOOKS: list[Callable[[], None]] = []


def add_lookup_hook(hook: Callable[[], None]) -> None:
    """Call ``hook()`` before every registry lookup (once per hook, however often added)."""
    if hook not in _LOOKUP_HOOKS:
        _LOOKUP_HOOKS.append(hook)


def _before_lookup() -> None:
    for hook in _LOOKUP_HOOKS:
        hook()


class Registry:
    """A named table of factories, e.g. ``PRIORS["vamp"]`` -> the VampPrior's factory.

    Unknown names are refused with the list of valid ones, so a typo in a config file
    is answered by what the user could have written.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}
        self._docs: dict[str, str] = {}
        self._origins: dict[str, str] = {}
        self._keys: dict[str, tuple[Key, ...]] = {}
        self._reads: dict[str, frozenset[str] | None] = {}

    def register(
        self,
        name: str,
        doc: str | None = None,
        keys: Iterable[Key] = (),
        reads: Iterable[str] | None = None,
    ) -> Callable:
        """Decorator: ``@PRIORS.register("laplace", "one line for pgm list")`` on a factory
        ``f(cfg) -> part`` (for parts see :mod:`pgm.parts`). Built-ins and plug-ins use the same
        decorator; the factory's module is recorded as the
        entry's origin, so a run can say which plug-in it needs. ``keys``: the config keys the
        part reads besides the model's (:class:`pgm.keys.Key`: name, type, default, bounds,
        meaning); the model layer fills and checks them, ``pgm list --keys`` shows them.
        ``reads`` (networks): which of the layer settings a network is handed
        (:data:`pgm.model_config.NETWORK_SETTINGS`) it reads, when not all of them; the others
        then get the "does not apply" warning and are left out of ``config.json``."""
        declared = tuple(keys)
        if not all(isinstance(k, Key) for k in declared):
            raise PgmError(f"{self.kind} {name!r}: expected keys as pgm.keys.Key; found {keys!r}")
        if reads is not None:
            names = () if isinstance(reads, str) else tuple(reads)
            if isinstance(reads, str) or not all(isinstance(k, str) for k in names):
                raise PgmError(
                    f"{self.kind} {name!r}: expected reads as a list of key names; found {reads!r}"
                )
            reads = frozenset(names)

        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise PgmError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = factory
            self._origins[name] = getattr(factory, "__module__", None) or ""
            self._keys[name] = declared
            self._reads[name] = reads
            text = doc or (factory.__doc__ or "").strip().splitlines()[0:1]
            self._docs[name] = text if isinstance(text, str) else (text[0] if text else "")
            return factory

        return decorator

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plug-in whose import failed half-way takes back what it added)."""
        for table in (self._entries, self._docs, self._origins, self._keys, self._reads):
            table.pop(name, None)

    def origin(self, name: str) -> str:
        """The module that registered ``name`` (``pgm....`` for a built-in)."""
        _before_lookup()
        return self._origins.get(name, "")

    def __getitem__(self, name: str) -> Callable[..., Any]:
        _before_lookup()
        if not isinstance(name, str) or name not in self._entries:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; expected one of: {', '.join(sorted(self))}"
            )
        return self._entries[name]

    def check(self, name: Any, argument: str | None = None) -> str:
        """Return ``name`` if registered, else raise ``ValueError`` naming the valid ones."""
        _before_lookup()
        if not isinstance(name, str) or name not in self._entries:
            raise PgmError(
                f"{argument or self.kind}: expected one of "
                f"{', '.join(sorted(self))}; found {name!r}"
            )
        return name

    def __contains__(self, name: object) -> bool:
        _before_lookup()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        _before_lookup()
        return iter(self._entries)

    def __len__(self) -> int:
        _before_lookup()
        return len(self._entries)

    def describe(self, name: str) -> str:
        """The one-line description ``name`` was registered with ("" if none or unknown)."""
        _before_lookup()
        return self._docs.get(name, "")

    def keys(self, name: str) -> tuple[Key, ...]:
        """The config keys ``name`` declared when registered (none for an unknown name)."""
        _before_lookup()
        return self._keys.get(name, ())

    def reads(self, name: str) -> frozenset[str] | None:
        """The settings ``name`` declared it reads (``reads=``); None when it declared none
        (it reads all it is handed) or is unknown."""
        _before_lookup()
        return self._reads.get(name)

    def builtin(self, name: str) -> bool:
        """Whether ``name`` was registered by pgm itself (not by a plug-in)."""
        origin = self.origin(name)
        return origin == "pgm" or origin.startswith("pgm.")

    def names(self) -> frozenset[str]:
        """The names registered right now, without loading any plug-in first (a plug-in whose
        import fails takes back what it added by comparing two of these)."""
        return frozenset(self._entries)


#: Models: ``factory(cfg) -> GenerativeModel`` (or a plain pair, through ``pgm.register_model``).
MODELS = Registry("model")
#: The parts of a VAE, each ``factory(cfg) -> nn.Module`` keeping its protocol of
#: :mod:`pgm.parts` (checked when built): a :class:`~pgm.parts.Prior` (``forward() -> p(z)``; one
#: defined through the guide is a :class:`~pgm.parts.PriorNeedsGuide`, attached by the model),
#: a :class:`~pgm.parts.Guide` (``forward(x) -> q(z | x)``) and a
#: :class:`~pgm.parts.Likelihood` (``forward(z) -> p(x | z)``). ``cfg`` is the resolved config.
PRIORS = Registry("prior")
GUIDES = Registry("guide")
LIKELIHOODS = Registry("likelihood")
DATASETS = Registry("dataset")
#: Networks, by the name of the config key ``network``: an encoder ``(event_shape, num_levels,
#: hidden_dim, out_features) -> nn.Module`` and a decoder ``(latent_dim, hidden_dim,
#: event_shape, params_per_dim) -> nn.Module`` registered under the same name.
ENCODERS = Registry("encoder")
DECODERS = Registry("decoder")


def all_registries() -> dict[str, Registry]:
    return {
        "models": MODELS,
        "priors": PRIORS,
        "guides": GUIDES,
        "likelihoods": LIKELIHOODS,
        "datasets": DATASETS,
        "encoders": ENCODERS,
        "decoders": DECODERS,
    }
