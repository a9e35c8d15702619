"""The paired comparisons of every pair of density models (computed with the ranking, whose
groups they decide: :mod:`.ranking`)."""

from __future__ import annotations

from ..tables import Column, Table
from .section import Section

__all__ = ["SECTION"]

TABLE = Table(
    (
        "Paired comparisons of the trained networks (one run each: training variance not "
        "included; models over seeds: see Models over seeds; two seeds of one model are not "
        "tested, their difference being training variance) on the same test images: mean of "
        "log p_a(x) − log p_b(x) (a is "
        "the better mean), its BCa 95% interval, the sign-flip randomisation test p-value "
        "(a Monte Carlo p-value: never below 1/(R+1) for R resamples), Holm-adjusted, and "
        "Wilcoxon's signed-rank p-value for reference."
    ),
    "comparisons",
    "",
    [
        Column("a", "a"),
        Column("b", "b"),
        Column("mean difference nats", "mean_difference_nats", ".2f"),
        Column("95% CI", "ci95", ".2f"),
        Column(
            "a better on",
            "fraction_a_better",
            ".2f",
            "fraction of test images where a scores higher",
        ),
        Column("p (sign-flip)", "p_value", ".3g"),
        Column("p Holm", "p_value_adjusted", ".3g"),
        Column("p (Wilcoxon)", "p_value_wilcoxon", ".3g"),
        Column("different", "significant"),
    ],
)


def text(results: dict) -> list[str]:
    """Says which pairs are not in the table: two seeds of one model are not tested."""
    untested = results.get("seed_pairs_not_compared") or 0
    if not untested:
        return []
    return [
        f"{untested} pair(s) of seeds of one model are not tested here: their difference is "
        "training variance, which Models over seeds measures (seed sd, variance shares)."
    ]


SECTION = Section(
    "comparisons", "Paired comparisons", tables=[TABLE], text=text, latex=["comparisons"]
)
