"""Estimators of log p(x) as registered units: one protocol (:mod:`.base`), one registry
(:mod:`.registry`), the built-ins importance sampling (:mod:`.importance`) and AIS
(:mod:`.annealed`). The shared preparation of the pair is :mod:`evaluation.pair`; the driver
that runs any of them on a run is :mod:`evaluation.evaluate_command`."""

from .base import Estimator, EstimatorResult
from .registry import estimator_names, get_estimator, list_estimators, register_estimator

__all__ = [
    "Estimator",
    "EstimatorResult",
    "estimator_names",
    "get_estimator",
    "list_estimators",
    "register_estimator",
]
