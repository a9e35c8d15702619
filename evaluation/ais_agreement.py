"""Importance sampling against AIS for one latent model on the same images: both estimates with
intervals, their paired difference, the BDMC gap on simulated data, a warning when they disagree,
and the report's table of it.

The IS estimate is a stochastic lower bound whose bias is invisible to its own intervals; AIS
with a long enough schedule (certified by a small BDMC gap, :mod:`.bdmc`) is a tighter one. A
paired difference AIS − IS whose 95% interval excludes 0 says the two disagree by more than their
Monte Carlo and test-set noise: when AIS is higher, the IS number is biased low; when it is lower,
the AIS schedule is too short.
"""

from __future__ import annotations

import html

import torch

from .ais import ais
from .bdmc import bdmc
from .report import Column, format_value
from .statistics import summarise_mean

__all__ = [
    "AIS_COLUMNS",
    "ais_agreement",
    "ais_section_html",
    "ais_section_markdown",
    "ais_settings",
]

AIS_COLUMNS = [
    Column("model", "model"),
    Column("IS nats", "is_nats", ".2f", "importance-sampled log p(x), mean over images"),
    Column("IS 95% CI", "is_ci95", ".2f"),
    Column(
        "AIS nats", "ais_nats", ".2f", "annealed importance sampling with HMC, mean over images"
    ),
    Column("AIS 95% CI", "ais_ci95", ".2f"),
    Column("AIS − IS", "difference_nats", ".3f", "paired mean difference over the same images"),
    Column("95% CI", "difference_ci95", ".3f", "BCa bootstrap interval of the paired difference"),
    Column("agree", "agree", "", "the interval of AIS − IS contains 0"),
    Column("BDMC gap", "bdmc_gap_nats", ".3f", "upper − lower bound on simulated data, mean"),
    Column("gap 95% CI", "bdmc_gap_ci95", ".3f"),
]

_CAPTION = (
    "Importance sampling (IS) against annealed importance sampling with HMC (AIS; Neal 2001, Wu et "
    "al. 2017) on the same images. Both are stochastic lower bounds on log p(x); "
    "AIS − IS > 0 means "
    "the IS estimate is biased low by at least that much. BDMC gap (Grosse et al. 2015): the "
    "distance between reverse and forward AIS on data simulated from the model, with the same "
    "schedule; a small gap certifies that the schedule is long enough."
)


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
    return row, ais_ll, _warning(row)


def _warning(row: dict) -> str | None:
    notes = []
    lo, hi = row["difference_ci95"]
    if not row["agree"]:
        verdict = (
            "the importance-sampled estimate is biased low: trust AIS, and the ranking only where "
            "it holds under AIS"
            if row["difference_nats"] > 0
            else "AIS is below importance sampling: its schedule is too short (see the BDMC gap); "
            "use more steps"
        )
        notes.append(
            f"importance sampling and AIS disagree by more than their uncertainty: AIS − IS = "
            f"{row['difference_nats']:.3f} nats [{lo:.3f}, {hi:.3f}] (IS {row['is_nats']:.2f}, AIS "
            f"{row['ais_nats']:.2f}, T = {row['num_steps']}, {row['num_chains']} chains); {verdict}"
        )
    gap = row["bdmc_gap_nats"]
    if gap is not None and gap > 1.0:
        notes.append(
            f"the BDMC gap on simulated data is {gap:.2f} nats: "
            f"AIS with T = {row['num_steps']} has not "
            "converged, and its estimate may be low by up to that much"
        )
    return f"{row['model']}: " + "; ".join(notes) if notes else None


def _cells(results: dict) -> list[list[tuple[str, str, str]]]:
    rows = results.get("ais", {}).get("models", [])
    return [
        [
            (format_value(row.get(c.key), c.fmt), f"ais/models/{i}/{c.key}", c.fmt)
            for c in AIS_COLUMNS
        ]
        for i, row in enumerate(rows)
    ]


def _settings(results: dict) -> str:
    s = results["ais"]["settings"]
    return (
        f"AIS: T = {s['num_steps']} {s['schedule']} steps from the {s['start']} to the posterior, "
        f"{s['num_chains']} chains per image, HMC with {s['num_leapfrog']} leapfrog steps, "
        f"step size adapted per image toward acceptance {s['target_accept']} on independent "
        f"pilot chains; BDMC on {s['bdmc_images']} simulated images."
    )


_TEXT = ' class="text"'


def ais_section_html(results: dict) -> str:
    """The report's AIS section (empty when the comparison ran without AIS)."""
    if not results.get("ais", {}).get("models"):
        return ""
    head = "".join(
        f'<th title="{html.escape(c.title)}">{html.escape(c.header)}</th>' for c in AIS_COLUMNS
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td{_TEXT if not fmt else ""} data-path="{html.escape(path)}" '
            f'data-format="{html.escape(fmt)}">{html.escape(text)}</td>'
            for text, path, fmt in cells
        )
        + "</tr>"
        for cells in _cells(results)
    )
    return (
        '<h2 id="ais">Importance sampling against AIS</h2>'
        f"<table><caption>{html.escape(_CAPTION)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table><p>{html.escape(_settings(results))}</p>"
    )


def ais_section_markdown(results: dict) -> str:
    """The AIS section as Markdown (empty when the comparison ran without AIS)."""
    if not results.get("ais", {}).get("models"):
        return ""
    lines = [
        "## Importance sampling against AIS\n",
        _CAPTION + "\n",
        "| " + " | ".join(c.header for c in AIS_COLUMNS) + " |",
        "|" + "|".join("---:" if c.fmt else "---" for c in AIS_COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(text for text, _, _ in cells) + " |" for cells in _cells(results)]
    return "\n".join(lines) + "\n\n" + _settings(results) + "\n"


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
