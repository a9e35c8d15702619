"""Measuring models: the shared log-likelihood estimator, diagnostics, statistics, figures, reports."""

from .ais import ais, ais_log_likelihood
from .bdmc import bdmc
from .log_likelihood import Estimate, bits_per_dim, elbo, estimate, log_likelihood

__all__ = [
    "Estimate",
    "ais",
    "ais_log_likelihood",
    "bdmc",
    "bits_per_dim",
    "elbo",
    "estimate",
    "log_likelihood",
]
