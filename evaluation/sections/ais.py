"""Importance sampling against AIS, where the comparison was asked for it (``--method ais``):
both estimates of every latent model on the same images, their paired difference and the BDMC
gap (:mod:`..ais_agreement`), with a warning where they disagree."""

from __future__ import annotations

from ..comparison import Comparison
from ..tables import Column, Table
from ..warning_record import warning_record
from .section import Section

__all__ = ["SECTION"]

TABLE = Table(
    (
        "Importance sampling (IS) against annealed importance sampling with HMC (AIS; Neal 2001, "
        "Wu et al. 2017) on the same images. Both are stochastic lower bounds on log p(x); "
        "AIS − IS > 0 means the IS estimate is biased low by at least that much. BDMC gap "
        "(Grosse et al. 2015): the distance between reverse and forward AIS on data simulated "
        "from the model, with the same schedule; a small gap certifies that the schedule is long "
        "enough."
    ),
    "ais/models",
    "",
    [
        Column("model", "model"),
        Column("IS nats", "is_nats", ".2f", "importance-sampled log p(x), mean over images"),
        Column("IS 95% CI", "is_ci95", ".2f"),
        Column(
            "AIS nats",
            "ais_nats",
            ".2f",
            "annealed importance sampling with HMC, mean over images",
        ),
        Column("AIS 95% CI", "ais_ci95", ".2f"),
        Column("AIS − IS", "difference_nats", ".3f", "paired mean difference over the same images"),
        Column(
            "95% CI", "difference_ci95", ".3f", "BCa bootstrap interval of the paired difference"
        ),
        Column("agree", "agree", "", "the interval of AIS − IS contains 0"),
        Column("BDMC gap", "bdmc_gap_nats", ".3f", "upper − lower bound on simulated data, mean"),
        Column("gap 95% CI", "bdmc_gap_ci95", ".3f"),
    ],
    hide_empty=True,
)


def settings_text(results: dict) -> list[str]:
    """The AIS settings as one paragraph (none when the comparison ran without AIS)."""
    if not results.get("ais", {}).get("models"):
        return []
    s = results["ais"]["settings"]
    return [
        f"AIS: T = {s['num_steps']} {s['schedule']} steps from the {s['start']} to the "
        f"posterior, {s['num_chains']} chains per image, HMC with {s['num_leapfrog']} leapfrog "
        f"steps, step size adapted per image toward acceptance {s['target_accept']} on "
        f"independent pilot chains; BDMC on {s['bdmc_images']} simulated images."
    ]


def _agreement(c: Comparison, options: dict) -> list[dict]:
    from ..ais_agreement import ais_agreement

    o = c.options
    steps, chains = options.pop("num_steps"), options.pop("num_chains")
    bdmc_images = options.pop("bdmc_images", 16)
    rows = []
    for run in c.latent:
        c.say(
            f"  AIS: {run.name} (T = {steps}, {chains} chains, {len(c.x)} images; "
            f"BDMC on {bdmc_images})"
        )
        row, run.ais, warning = ais_agreement(
            run.name,
            run.model,
            c.x,
            run.est.log_likelihood,
            steps,
            chains,
            bdmc_images=bdmc_images,
            seed=o.seed,
            n_resamples=o.n_resamples,
            progress=o.progress,
            **options,
        )
        run.row["ais_log_likelihood_nats"] = row["ais_nats"]
        run.row["ais_minus_is_nats"] = row["difference_nats"]
        rows.append(row)
        if warning:  # IS and AIS disagree, or the BDMC gap says AIS has not converged
            c.warnings.append(
                warning_record(
                    "ais-unreliable",
                    run.name,
                    "ais_minus_is_nats",
                    row["difference_nats"],
                    None,
                    warning,
                )
            )
    return rows


def compute(c: Comparison) -> None:
    """IS against AIS and the BDMC gap for every latent model; fills ``run.ais``."""
    if not c.options.ais:
        return
    from ..ais_agreement import ais_settings

    options = dict(c.options.ais)
    with c.timed("ais"):
        rows = _agreement(c, options)
    settings = ais_settings(
        c.options.ais["num_steps"],
        c.options.ais["num_chains"],
        c.options.ais.get("bdmc_images", 16),
        **options,
    )
    c.results["ais"] = {"settings": settings, "models": rows}


SECTION = Section(
    "ais",
    "Importance sampling against AIS",
    tables=[TABLE],
    compute=compute,
    text=settings_text,
)
