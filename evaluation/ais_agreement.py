"""Importance sampling against AIS for one latent model on the same images: both estimates with
intervals, their paired difference, the BDMC gap on simulated data, and a warning when they
disagree (its words: :mod:`.warnings_text`; the report's section: :mod:`.sections.ais`).

The IS estimate is a stochastic lower bound whose bias is invisible to its own intervals; AIS
with a long enough schedule (certified by a small BDMC gap, :mod:`.bdmc`) is a tighter one. A
paired difference AIS − IS whose 95% interval excludes 0 says the two disagree by more than their
Monte Carlo and test-set noise: when AIS is higher, the IS number is biased low; when it is lower,
the AIS schedule is too short.
"""

from __future__ import annotations

import torch

from .ais import ais
from .bdmc import bdmc
from .statistics import summarise_mean
from .warnings_text import ais_disagreement

__all__ = ["ais_agreement", "ais_settings"]


def ais_agreement(
    name: str,
    model,
    x: torch.Tensor,
    is_log_likelihood: torch.Tensor,
    num_steps: int,
    num_chains: int,
    *,
    bdmc_images: int = 16,
    seed: int = 0,
    n_resamples: int = 9999,
    progress: bool = False,
    **ais_kwargs,
) -> tuple[dict, torch.Tensor, str | None]:
    """AIS on ``x: (N, ...)`` beside the IS estimate ``is_log_likelihood: (N,)`` of a built latent
    model. Returns the table row (results.json), the per-image AIS estimate ``(N,)`` and a
    warning (``None`` when IS and AIS agree and the BDMC gap is below 1 nat)."""
    torch.manual_seed(seed)
    result = ais(model, None, x, num_steps, num_chains, progress=progress, **ais_kwargs)
    ais_ll = result.log_likelihood.double()
    is_ll = is_log_likelihood.double().cpu()
    s_is = summarise_mean(is_ll.numpy(), n_resamples=n_resamples, seed=seed)
    s_ais = summarise_mean(ais_ll.numpy(), n_resamples=n_resamples, seed=seed)
    s_diff = summarise_mean((ais_ll - is_ll).numpy(), n_resamples=n_resamples, seed=seed)
    agree = bool(s_diff.ci95[0] <= 0.0 <= s_diff.ci95[1])
    row = {
        "model": name,
        "is_nats": s_is.mean,
        "is_ci95": list(s_is.ci95),
        "ais_nats": s_ais.mean,
        "ais_ci95": list(s_ais.ci95),
        "difference_nats": s_diff.mean,
        "difference_ci95": list(s_diff.ci95),
        "difference_max_nats": float((ais_ll - is_ll).abs().max()),
        "agree": agree,
        "ais_chain_standard_error_nats": float(
            result.standard_error[torch.isfinite(result.standard_error)].mean()
        )
        if torch.isfinite(result.standard_error).any()
        else None,
        "ais_accept_rate": float(result.accept_rate.mean()),
        "num_steps": num_steps,
        "num_chains": num_chains,
        "bdmc_images": 0,
        "bdmc_lower_nats": None,
        "bdmc_upper_nats": None,
        "bdmc_gap_nats": None,
        "bdmc_gap_ci95": None,
    }
    if bdmc_images > 1:
        torch.manual_seed(seed)
        sandwich = bdmc(
            model, None, bdmc_images, num_steps, num_chains, progress=progress, **ais_kwargs
        )
        gap = summarise_mean(sandwich.gap.numpy(), n_resamples=n_resamples, seed=seed)
        row.update(
            {
                "bdmc_images": bdmc_images,
                "bdmc_lower_nats": float(sandwich.lower.mean()),
                "bdmc_upper_nats": float(sandwich.upper.mean()),
                "bdmc_gap_nats": gap.mean,
                "bdmc_gap_ci95": list(gap.ci95),
            }
        )
    return row, ais_ll, ais_disagreement(row)


def ais_settings(num_steps: int, num_chains: int, bdmc_images: int, **ais_kwargs) -> dict:
    """The AIS settings as recorded in results.json (defaults of :func:`evaluation.ais.ais`
    filled in)."""
    import inspect

    defaults = {
        k: p.default
        for k, p in inspect.signature(ais).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    keys = ("start", "schedule", "num_leapfrog", "step_size", "adapt_chains", "target_accept")
    chosen = {k: ais_kwargs.get(k, defaults[k]) for k in keys}
    return {"num_steps": num_steps, "num_chains": num_chains, "bdmc_images": bdmc_images, **chosen}
