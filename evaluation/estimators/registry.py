"""The registry of estimators: the one place ``--method``, the evaluation driver and its summary
look an estimator up. The built-ins (``is``, ``ais``) are registered on first lookup, so
importing the registry costs nothing; a plug-in registers with :func:`register_estimator`."""

from __future__ import annotations

from pgm.errors import UnknownNameError

from .base import Estimator

__all__ = ["estimator_names", "get_estimator", "list_estimators", "register_estimator"]

_ESTIMATORS: dict[str, Estimator] = {}
_BUILT_IN = ("evaluation.estimators.importance", "evaluation.estimators.annealed")


def register_estimator(cls: type[Estimator]) -> type[Estimator]:
    """Class decorator: register an :class:`Estimator` subclass under its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, Estimator)):
        raise TypeError(f"register_estimator: expected an Estimator subclass; found {cls!r}")
    if not cls.name or not cls.name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(
            f"register_estimator: expected a name of letters, digits, - or _; found {cls.name!r}"
        )
    _ESTIMATORS[cls.name] = cls()
    return cls


def _load_built_ins() -> None:
    """The built-in estimators, then the plug-ins the user named (``--plugin``): a plug-in's
    estimator is registered by importing its file, after the trust boundary's checks."""
    import importlib

    from pgm.plugins import load_named

    for module in _BUILT_IN:
        importlib.import_module(module)
    load_named()


def list_estimators() -> dict[str, str]:
    """``{name: description}`` of every registered estimator."""
    _load_built_ins()
    return {name: e.description for name, e in _ESTIMATORS.items()}


def estimator_names() -> list[str]:
    return list(list_estimators())


def get_estimator(name: str, argument: str = "--method") -> Estimator:
    """The estimator registered as ``name``; an unknown name is refused in one line listing
    the registered ones."""
    _load_built_ins()
    if name not in _ESTIMATORS:
        raise UnknownNameError(
            f"{argument}: expected one of {', '.join(_ESTIMATORS)} (or a plug-in's estimator, "
            f"with --plugin); found {name!r}"
        )
    return _ESTIMATORS[name]
