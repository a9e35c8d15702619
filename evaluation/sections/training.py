"""Training curves of every run, and the warnings about convergence: runs still falling or
over-fitting at their last epoch, and significant differences that involve them
(:mod:`..convergence`)."""

from __future__ import annotations

from ..comparison import Comparison
from ..convergence import convergence_warnings
from ..figures import FigureFile, training_curves_plot
from .section import Section

__all__ = ["SECTION"]


def compute(c: Comparison) -> None:
    c.warnings.extend(convergence_warnings(c.convergences, c.results["comparisons"]))


def figures(c: Comparison) -> list[FigureFile]:
    if not any(c.metrics.values()):
        return []
    return [
        FigureFile(
            "training-curves.png",
            "Training and validation loss per epoch (each run's own objective, nats per "
            "image); dotted line and dot: the best validation epoch, whose weights are "
            "kept; panel titles flag runs still falling or over-fitting.",
            "training",
            *training_curves_plot(c.metrics, c.convergences, with_svg=True),
        )
    ]


SECTION = Section("training", "Training curves", compute=compute, figures=figures)
