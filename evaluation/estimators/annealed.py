"""Annealed importance sampling with HMC (:func:`evaluation.ais.ais`) as a registered
estimator: ``ais``. Its row carries the HMC acceptance rate and the adapted step size."""

from __future__ import annotations

import torch

from ..ais import ais, check_settings
from ..defaults import DEFAULT_CHAINS, DEFAULT_LEAPFROG, DEFAULT_STEPS
from .base import Estimator, EstimatorResult
from .registry import register_estimator

__all__ = ["AnnealedImportanceSampling"]


@register_estimator
class AnnealedImportanceSampling(Estimator):
    name = "ais"
    description = "annealed importance sampling with HMC from the guide (Neal 2001; Wu et al. 2017)"

    def settings(self, args) -> dict:
        def given(name, default):
            value = getattr(args, name, None)
            return default if value is None else value

        settings = {
            "num_steps": given("steps", DEFAULT_STEPS),
            "num_chains": given("chains", DEFAULT_CHAINS),
            "num_leapfrog": given("leapfrog", DEFAULT_LEAPFROG),
        }
        check_settings(**settings)
        return settings

    def key(self, settings: dict) -> str:
        return f"T{settings['num_steps']}-C{settings['num_chains']}-L{settings['num_leapfrog']}"

    def estimate(self, pair, settings: dict, progress: bool = False) -> EstimatorResult:
        result = ais(
            pair,
            num_steps=settings["num_steps"],
            num_chains=settings["num_chains"],
            num_leapfrog=settings["num_leapfrog"],
            progress=progress,
        )
        finite = result.standard_error[torch.isfinite(result.standard_error)]
        fields = {
            "num_steps": result.num_steps,
            "num_chains": result.num_chains,
            "num_leapfrog": settings["num_leapfrog"],
            "chain_standard_error_nats": float(finite.mean()) if finite.numel() else None,
            "accept_rate": None if result.exact else float(result.accept_rate.mean()),
            "step_size": None if result.exact else float(result.step_size.mean()),
            "target_accept": 0.65,
        }
        return EstimatorResult(result.log_likelihood, fields, exact=result.exact)

    def summary(self, row: dict) -> list[str]:
        from ..report import format_value as f

        if row.get("exact"):
            return []
        return [
            f"  AIS        T = {row['num_steps']} steps, {row['num_chains']} chains, "
            f"{row['num_leapfrog']} leapfrog (SE over chains "
            f"{f(row.get('chain_standard_error_nats'), '.3f')})",
            f"  HMC        acceptance {f(row['accept_rate'], '.2f')} (target "
            f"{row['target_accept']}), step size {f(row['step_size'], '.3f')}",
        ]
