"""What an estimator is: one protocol every estimator of log p(x) keeps (IS, AIS, a plug-in's).

As Pyro's ``infer/mcmc`` separates a kernel (``MCMCKernel``), its adaptation and the one driver
that runs any kernel, an estimator here only estimates: it receives a pair already resolved,
checked and probed (:class:`evaluation.pair.PreparedPair`, the shared preparation) and its
settings, and returns per-image log p(x). The driver (:mod:`evaluation.evaluate_command`) loads
the run and its data, prepares the pair, seeds, summarises (mean, standard error, interval,
bits/dim), names and reuses the evaluation file, and prints; the registry
(:mod:`.registry`) is what ``--method`` and the summary read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["Estimator", "EstimatorResult"]


@dataclass
class EstimatorResult:
    """Per-image ``log_likelihood (N,)`` in nats; ``fields``: what the estimator adds to the
    evaluation's row (JSON values: its settings as run, diagnostics); ``exact``: the number is
    log p(x) itself (a model without latents), not an estimate."""

    log_likelihood: torch.Tensor
    fields: dict = field(default_factory=dict)
    exact: bool = False


class Estimator:
    """Subclass, set ``name`` and ``description``, implement :meth:`estimate`, and register it
    (:func:`evaluation.estimators.register_estimator`); a plug-in file doing so is all that
    ``pgm evaluate RUN --plugin FILE --method NAME`` needs."""

    name: str = ""
    description: str = ""
    #: the pair is probed without its guide (an estimator that does not use q(z | x))
    uses_guide: bool = True

    def settings(self, args) -> dict:
        """The estimator's settings from the parsed command line (``args.num_particles``,
        ``args.steps``, ``args.chains``, ``args.leapfrog``; None where not given)."""
        return {}

    def key(self, settings: dict) -> str:
        """The settings' part of the evaluation file's name (``K500``, ``T500-C4-L10``): two
        evaluations with the same key are the same evaluation, and the second reuses the first."""
        return "-".join(f"{k}{v}" for k, v in sorted(settings.items())) or "default"

    def estimate(self, pair, settings: dict, progress: bool = False) -> EstimatorResult:
        raise NotImplementedError

    def summary(self, row: dict) -> list[str]:
        """Lines the text summary adds below log p(x) and bits/dim (settings, diagnostics)."""
        return []
