"""What was built and how it was trained: one row per density model (its parts, as read from
the built objects, and its convergence record), and the models without a density, which are
left out of the ranking."""

from __future__ import annotations

from ..compared_run import relative_to_report
from ..comparison import Comparison
from ..tables import Column, Table
from .section import Section

__all__ = ["MODELS", "NO_DENSITY"]

_TRAINING = [
    Column("best epoch", "convergence/best_epoch", "d"),
    Column("last epoch", "convergence/last_epoch", "d"),
]

MODELS = Section(
    "models",
    "Models and training",
    tables=[
        Table(
            (
                "What was built: each model's parts as constructed (read from the built objects, "
                "or a plug-in's registered description), and its training — the best validation "
                "epoch (the weights evaluated), the last epoch, and the validation loss's slope "
                "over the last fifth of training (nats per image per epoch); its parameters and "
                "training time (equal terms), and the model it is a seed of."
            ),
            "models",
            "",
            [
                Column("model", "model"),
                Column("seed of", "replicate_of", "", "the model this run is a seed of"),
                Column("description", "description"),
                Column("parameters", "equal_terms/parameters", "d"),
                Column("train s", "equal_terms/train_seconds", ".1f", "training time, seconds"),
                *_TRAINING,
                Column("slope", "convergence/slope_per_epoch", ".3f"),
                Column("training", "training"),
            ],
        )
    ],
)


def _without_density(c: Comparison) -> None:
    c.results["models_without_density"] = [
        {
            "model": r.name,
            "architecture": r.cfg.get("model"),
            "description": r.describe(),
            "reason": "defines no density p(x), so it has no log-likelihood to rank",
            "convergence": c.convergences[r.name],
            "run": relative_to_report(r.path, c.out),
        }
        for r in c.runs
        if not r.has_density
    ]


NO_DENSITY = Section(
    "no_density",
    "Models without a density",
    tables=[
        Table(
            (
                "Models without a density p(x) are left out of the ranking: they have no "
                "likelihood to estimate or compare. They appear in the representation table, "
                "reconstructions, traversals and training curves."
            ),
            "models_without_density",
            "",
            [
                Column("model", "model"),
                Column("description", "description"),
                *_TRAINING,
                Column("training", "convergence/status"),
            ],
            hide_empty=True,
        )
    ],
    compute=_without_density,
)
