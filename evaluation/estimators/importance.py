"""Importance sampling with the guide (:func:`evaluation.log_likelihood.estimate`) as a
registered estimator: ``is``."""

from __future__ import annotations

import numpy as np

from ..defaults import DEFAULT_NUM_PARTICLES
from ..log_likelihood import estimate
from .base import Estimator, EstimatorResult
from .registry import register_estimator

__all__ = ["ImportanceSampling"]


@register_estimator
class ImportanceSampling(Estimator):
    name = "is"
    description = (
        "importance sampling from the guide, K samples per image (exact K = 1 without latents)"
    )

    def settings(self, args) -> dict:
        k = getattr(args, "num_particles", None)
        return {"num_particles": DEFAULT_NUM_PARTICLES if k is None else k}

    def key(self, settings: dict) -> str:
        return f"K{settings['num_particles']}"

    def estimate(self, pair, settings: dict, progress: bool = False) -> EstimatorResult:
        from ..diagnostics import KHAT_UNRELIABLE, psis_khat

        est = estimate(
            pair,
            num_particles=settings["num_particles"],
            return_log_weights=True,
            progress=progress,
        )
        share = None
        if pair.has_latents and est.num_particles > 1:
            khat = psis_khat(est.log_weights)
            finite = khat[np.isfinite(khat)]
            share = float((finite > KHAT_UNRELIABLE).mean()) if finite.size else None
        fields = {
            "num_particles": est.num_particles,
            "elbo_nats": float(est.elbo.double().mean()) if pair.has_latents else None,
            "psis_khat_unreliable_fraction": share,
        }
        return EstimatorResult(est.log_likelihood, fields, exact=not pair.has_latents)

    def summary(self, row: dict) -> list[str]:
        from ..diagnostics import KHAT_UNRELIABLE
        from ..report import format_value as f

        lines = []
        if row.get("elbo_nats") is not None:
            lines.append(
                f"  ELBO       {f(row['elbo_nats'], '.2f')} nats "
                f"(gap {f(row['log_likelihood_nats'] - row['elbo_nats'], '.2f')})"
            )
        share = row.get("psis_khat_unreliable_fraction")
        if share is not None:
            lines.append(
                f"  k-hat      {100 * share:.1f}% of images above {KHAT_UNRELIABLE} "
                "(unreliable there)"
            )
        elif row.get("elbo_nats") is not None:
            lines.append(
                f"  k-hat      not estimable at K = {row['num_particles']} "
                "(too few weights for PSIS's tail fit)"
            )
        return lines
