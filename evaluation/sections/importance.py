"""Importance-sampling diagnostics of the latent models: PSIS k-hat and Kish's ESS of the K
weights the estimate kept, the estimate against K on a few images, a warning where k-hat says
the estimate is unreliable; the table, the K-curves and the k-hat strip."""

from __future__ import annotations

import numpy as np

from .. import diagnostics as diag
from .. import warnings_text as text
from ..comparison import Comparison
from ..figures import FigureFile, k_curve_plot, khat_plot
from ..progress import progress_bar
from ..tables import Column, Table
from ..warning_record import warning_record
from .section import Section

__all__ = ["SECTION"]

TABLE = Table(
    (
        "Importance-sampling diagnostics per latent model, over the test images: PSIS k-hat "
        "(Vehtari et al. 2024; > 0.7 unreliable) and Kish's effective sample size of the K "
        "weights."
    ),
    "models",
    "has_latents",
    [
        Column("model", "model"),
        Column("k-hat median", "psis_khat", ".2f"),
        Column("k-hat max", "psis_khat_max", ".2f"),
        Column("share k-hat > 0.7", "psis_khat_unreliable_fraction", ".3f"),
        Column("ESS mean", "ess_mean", ".1f"),
        Column("ESS min", "ess_min", ".1f"),
        Column("K", "num_particles", "d"),
    ],
)


def _weights(run, c: Comparison) -> None:
    """k-hat and ESS from the kept weights into ``run.row``; a warning where k-hat is high."""
    lw = run.est.log_weights
    run.khat = diag.psis_khat(lw)
    run.ess = diag.effective_sample_size(lw)
    finite = run.khat[np.isfinite(run.khat)]
    unreliable = float((finite > diag.KHAT_UNRELIABLE).mean()) if finite.size else None
    run.row.update(
        {
            "psis_khat": float(np.median(finite)) if finite.size else None,
            "psis_khat_max": float(finite.max()) if finite.size else None,
            "psis_khat_unreliable_fraction": unreliable,
            "ess_mean": float(run.ess.mean()),
            "ess_min": float(run.ess.min()),
        }
    )
    if unreliable:
        c.warnings.append(
            warning_record(
                "khat-unreliable",
                run.name,
                "psis_khat_unreliable_fraction",
                unreliable,
                diag.KHAT_UNRELIABLE,
                text.khat_unreliable(run.name, unreliable, run.row["psis_khat_max"]),
            )
        )


def compute(c: Comparison) -> None:
    o = c.options
    n_curve = min(o.curve_images, len(c.x))
    curves = {}
    with c.timed("diagnostics"):
        for run in progress_bar(c.latent, "diagnostics", o.progress):
            _weights(run, c)
            if n_curve:
                curves[run.name] = diag.estimate_vs_particles(
                    run.model, c.x[:n_curve], o.curve_max_particles, seed=o.seed
                ).as_dict()
    c.results["k_curves"] = curves


def figures(c: Comparison) -> list[FigureFile]:
    figs = []
    if c.results["k_curves"]:
        figs.append(
            FigureFile(
                "k-curves.png",
                "Estimate against the number of importance samples K (±1 sd across disjoint "
                "blocks), on a subset of test images; K = 1 is the ELBO.",
                "importance",
                *k_curve_plot(c.results["k_curves"], with_svg=True),
            )
        )
    if c.latent:
        figs.append(
            FigureFile(
                "khat.png",
                f"PSIS k-hat per test image (dashed: {diag.KHAT_GOOD} and "
                f"{diag.KHAT_UNRELIABLE}; colours: good, usable, unreliable).",
                "importance",
                *khat_plot({r.name: r.khat for r in c.latent}, with_svg=True),
            )
        )
    return figs


SECTION = Section(
    "importance",
    "Importance-sampling diagnostics",
    tables=[TABLE],
    compute=compute,
    figures=figures,
)
