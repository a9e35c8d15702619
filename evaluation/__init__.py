"""Measuring models: the shared log-likelihood estimator, diagnostics, statistics, figures,
reports."""

try:
    from .ais import ais, ais_log_likelihood
    from .bdmc import bdmc
    from .log_likelihood import Estimate, bits_per_dim, elbo, estimate, log_likelihood
except KeyboardInterrupt:  # Ctrl-C during the start-up imports of `pgm`: one line, no traceback
    import sys

    print("pgm: interrupted while starting; nothing was run or written", file=sys.stderr)
    raise SystemExit(130) from None

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
