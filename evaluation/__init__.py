"""Measuring models: the shared log-likelihood estimator, diagnostics, statistics, figures, reports."""

from .log_likelihood import Estimate, bits_per_dim, elbo, estimate, log_likelihood

__all__ = ["Estimate", "bits_per_dim", "elbo", "estimate", "log_likelihood"]
