"""Measuring models: the shared log-likelihood estimator, diagnostics, statistics, figures,
reports."""

# imported by a command while it runs (never at pgm's start-up): a Ctrl-C or SIGTERM during
# this import is the command's to report, with what it has kept (pgm_cli.main)
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
