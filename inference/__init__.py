"""Fitting models: the SVI loop, training config, run folders, checkpoints and exact resume."""

from .checkpoint import CheckpointError
from .config import ConfigError, load_config, parse_overrides, resolve_config
from .elbo import ImportanceWeightedELBO, make_elbo
from .run import Run, load_run, load_run_weights, read_metrics, train
from .run_checkpoint import RunWeights
from .run_folder import RunFolder
from .trainer import FitResult, NonFiniteLossError, Trainer, fit_model
from .training_config import TrainingConfig

__all__ = [
    "CheckpointError",
    "ConfigError",
    "FitResult",
    "ImportanceWeightedELBO",
    "NonFiniteLossError",
    "Run",
    "RunFolder",
    "RunWeights",
    "Trainer",
    "TrainingConfig",
    "fit_model",
    "load_config",
    "load_run",
    "load_run_weights",
    "make_elbo",
    "parse_overrides",
    "read_metrics",
    "resolve_config",
    "train",
]
