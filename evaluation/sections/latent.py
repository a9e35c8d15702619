"""Latent-variable diagnostics: rate and distortion (Alemi et al. 2018), active units (Burda et
al. 2016), posterior collapse (full or partial) and each model's status; the table and the
unit-activity plot."""

from __future__ import annotations

import torch

from .. import diagnostics as diag
from .. import warnings_text as text
from ..comparison import Comparison
from ..figures import FigureFile, activity_plot
from ..tables import Column, Table
from ..warning_record import warning_record
from .section import Section

__all__ = ["SECTION", "collapse_record"]

TABLE = Table(
    (
        "VAE diagnostics: rate (KL, nats) and distortion (−E_q log p(x|z), nats), their sum "
        "the negative ELBO (Alemi et al. 2018); active units: Cov_x(E_q[z_u|x]) > 0.01 "
        "(Burda et al. 2016)."
    ),
    "models",
    "has_latents",
    [
        Column("model", "model"),
        Column("rate nats", "rate_nats", ".2f"),
        Column("distortion nats", "distortion_nats", ".2f"),
        Column("ELBO nats", "elbo_nats", ".2f"),
        Column("active units", "active_units", "d"),
        Column("latent dim", "latent_dim", "d"),
        Column("status", "status"),
    ],
)


def collapse_record(name: str, rate: float, num_active: int, latent_dim: int) -> dict | None:
    """The warning record of a collapsed code (:func:`..diagnostics.collapse_kind`), or None."""
    kind = diag.collapse_kind(rate, num_active, latent_dim)
    if kind == "posterior-collapse":
        sentence = text.posterior_collapse(name, rate, num_active, latent_dim)
        return warning_record(kind, name, "rate_nats", rate, diag.COLLAPSE_RATE_NATS, sentence)
    if kind == "partial-collapse":
        sentence = text.partial_collapse(name, rate, num_active, latent_dim)
        return warning_record(kind, name, "active_units", num_active, latent_dim / 2, sentence)
    return None


def _diagnose(run, c: Comparison) -> None:
    seed = c.options.seed
    torch.manual_seed(seed)
    rate, distortion = diag.rate_distortion(run.model, c.x)
    torch.manual_seed(seed)
    codes = diag.posterior_mean(run.model, c.x.to(run.model.device))
    num_active, run.activity = diag.active_units(codes)
    row = run.row
    row.update(
        {
            "rate_nats": float(rate.double().mean()),
            "distortion_nats": float(distortion.double().mean()),
            "active_units": num_active,
        }
    )
    status = []
    record = collapse_record(run.name, row["rate_nats"], num_active, row["latent_dim"])
    if record is not None:
        c.warnings.append(record)
        status.append(
            "posterior collapse"
            if record["code"] == "posterior-collapse"
            else f"partial collapse ({row['latent_dim'] - num_active} units inactive)"
        )
    if row["psis_khat_unreliable_fraction"]:
        status.append("k-hat unreliable")
    row["status"] = "; ".join(status) or "ok"


def compute(c: Comparison) -> None:
    with c.timed("diagnostics"):
        for run in c.latent:
            _diagnose(run, c)


def figures(c: Comparison) -> list[FigureFile]:
    if not c.latent:
        return []
    return [
        FigureFile(
            "active-units.png",
            f"Activity of each latent unit, sorted (dashed: the {diag.ACTIVE_UNIT_THRESHOLD} "
            "threshold).",
            "latent",
            *activity_plot({r.name: r.activity for r in c.latent}, with_svg=True),
        )
    ]


SECTION = Section(
    "latent",
    "Latent-variable diagnostics",
    tables=[TABLE],
    compute=compute,
    figures=figures,
)
