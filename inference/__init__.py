"""Fitting models: the SVI loop, ELBO choice, checkpoints and exact resume."""

from .checkpoint import CheckpointError
from .config import ConfigError, load_config, parse_overrides, resolve_config
from .elbo import ImportanceWeightedELBO, make_elbo
from .run import load_run, read_metrics
from .trainer import FitResult, NonFiniteLossError, Trainer, fit_model, train

__all__ = [
    "train",
    "fit_model",
    "Trainer",
    "FitResult",
    "NonFiniteLossError",
    "CheckpointError",
    "ConfigError",
    "load_config",
    "parse_overrides",
    "resolve_config",
    "make_elbo",
    "ImportanceWeightedELBO",
    "load_run",
    "read_metrics",
]
