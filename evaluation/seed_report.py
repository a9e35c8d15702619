"""The words and tables of the report's "Models over seeds and equal terms" section
(:mod:`.sections.seeds`), its summary sentence and what the seeds and budget can and cannot
support, from the ``seeds`` part of ``results.json`` (:mod:`.seed_results`). The tables are
:class:`~.tables.Table`s, drawn by the one renderer of :mod:`.tables`.
"""

from __future__ import annotations

from .tables import Column, Table, format_value

__all__ = [
    "COMPARISONS_TABLE",
    "MODELS_TABLE",
    "seed_paragraphs",
    "seed_summary_sentence",
]

MODEL_COLUMNS = [
    Column("rank", "rank", "d"),
    Column(
        "rank range",
        "rank_range",
        "d",
        "1 + #models significantly better over seeds … M − #models significantly worse",
    ),
    Column("group", "group"),
    Column("model", "model"),
    Column("seeds", "num_seeds", "d"),
    Column("log p(x) nats", "mean", ".2f", "mean over seeds and test images"),
    Column("95% CI", "ci95", ".2f", "two-level bootstrap: seeds, then test images"),
    Column("seed sd", "seed_sd", ".3f", "spread of the per-seed means (nats)"),
    Column("per-seed means", "seed_means", ".2f"),
    Column("share: seeds", "variance/shares/seeds", ".2f"),
    Column("share: images", "variance/shares/test_images", ".2f"),
    Column("share: MC", "variance/shares/monte_carlo", ".3f"),
    Column("resolvable nats", "minimal_detectable_difference", ".2f", "80% power, α"),
    Column("parameters", "equal_terms/parameters", "d"),
    Column("epochs", "equal_terms/epochs", "d"),
    Column("train s", "equal_terms/train_seconds_mean", ".1f", "mean over seeds"),
    Column("converged", "equal_terms/convergence"),
]

COMPARISON_COLUMNS = [
    Column("a", "a"),
    Column("b", "b"),
    Column("seeds a", "seeds_a", "d"),
    Column("seeds b", "seeds_b", "d"),
    Column("difference nats", "mean_difference_nats", ".2f"),
    Column("95% CI", "ci95", ".2f"),
    Column("P(a > b)", "probability_of_improvement", ".2f", "share of seed pairs a wins"),
    Column("p", "p_value", ".3g"),
    Column("p Holm", "p_value_adjusted", ".3g"),
    Column("resolvable nats", "minimal_detectable_difference", ".2f"),
    Column("different over seeds", "significant"),
]

_MODEL_CAPTION = (
    "Models over seeds, best first: runs whose configs differ only in their seed (or grouped "
    "with --group) are one model. Rank, rank range and group letters from the pairwise tests "
    "over seeds below (models sharing a letter are not distinguishable; a model of one seed is "
    "not ranked). Interval: two-level bootstrap (seeds, then test images); shares: where one "
    "run's score varies (seeds, test images, Monte Carlo); resolvable: the smallest difference "
    "to a model of equal spread these seeds find with 80% power."
)
_COMPARISON_CAPTION = (
    "Pairwise over seeds: Welch's t on the per-seed means, paired over the shared test images "
    "(the training run is the unit), Holm-adjusted; P(a > b): the probability that a run of a "
    "beats a run of b (Agarwal et al. 2021)."
)


def _converged(results: dict) -> set[str]:
    return {m["model"] for m in results["seeds"]["models"] if m["equal_terms"].get("all_converged")}


def seed_summary_sentence(results: dict) -> str:
    """The page's lead: what holds over seeds and among converged models — never a count of
    significant pairs; with one seed per model, that the networks, not the models, are compared."""
    seeds = results["seeds"]
    models = seeds["models"]
    if not models:
        return "No density model was evaluated."
    converged = _converged(results)
    not_conv = [m["model"] for m in models if m["model"] not in converged]
    tail = (
        f" Not converged or not shown to converge: {', '.join(not_conv)} — differences "
        "involving them "
        "compare training budgets."
        if not_conv
        else " Every model converged."
    )
    if seeds["unit"] == "network":
        best = models[0]
        return (
            f"One trained network per model: this compares these networks, not the models — "
            f"training variance is not included, so where the networks differ the models may "
            f"not. Best network: {best['model']} ({format_value(best['mean'], '.2f')} nats)." + tail
        )
    held = [c for c in seeds["comparisons"] if c["significant"] and {c["a"], c["b"]} <= converged]
    budget = [c for c in seeds["comparisons"] if c["significant"] and c not in held]
    unresolved = [c for c in seeds["comparisons"] if not c["significant"]]
    parts = []
    if held:
        parts.append(
            "Holds over seeds, among converged models: "
            + "; ".join(
                f"{c['a']} > {c['b']} by {format_value(c['mean_difference_nats'], '.2f')} nats "
                f"(P(a > b) = {format_value(c['probability_of_improvement'], '.2f')})"
                for c in held
            )
            + "."
        )
    elif len(converged) >= 2:
        parts.append("No difference between converged models holds over seeds.")
    if budget:
        parts.append(
            "Holds over seeds, but involves a model that had not converged (a budget, not a "
            "verdict): "
            + "; ".join(
                f"{c['a']} > {c['b']} by {format_value(c['mean_difference_nats'], '.2f')} nats"
                for c in budget
            )
            + "."
        )
    if unresolved:
        parts.append(
            "Not resolved by these seeds: "
            + "; ".join(
                f"{c['a']} vs {c['b']} (resolvable ≥ "
                f"{format_value(c['minimal_detectable_difference'], '.2f')} nats)"
                for c in unresolved
            )
            + "."
        )
    if seeds["single_seed_models"]:
        parts.append(
            f"One seed only, not compared over seeds: {', '.join(seeds['single_seed_models'])}."
        )
    if len(models) == 1:  # one model over its seeds: nothing to compare, its estimate leads
        m = models[0]
        lo, hi = m["ci95"]
        parts.append(
            f"{m['model']} over {m['num_seeds']} seeds: {format_value(m['mean'], '.2f')} nats "
            f"[{format_value(lo, '.2f')}, {format_value(hi, '.2f')}] (the interval includes "
            "training variance)."
        )
    return (" ".join(parts) + tail).strip()


def seed_paragraphs(results: dict) -> list[str]:
    """What these seeds and budget can and cannot support, in plain sentences."""
    seeds = results.get("seeds")
    if not isinstance(seeds, dict):
        return []
    out = []
    if seeds["unit"] != "network":
        for m in seeds["models"]:
            if m["num_seeds"] >= 2 and m["seeds_needed"]:
                needed = ", ".join(
                    f"{d} nats: {n if n is not None else '> 1000'}"
                    for d, n in m["seeds_needed"].items()
                )
                out.append(
                    f"{m['model']}: {m['num_seeds']} seeds resolve differences of about "
                    f"{format_value(m['minimal_detectable_difference'], '.2f')} nats or more "
                    f"(80% power, α = {seeds['alpha']}); seeds per model needed for {needed}."
                )
    unshown = [m["model"] for m in seeds["models"] if m["equal_terms"].get("seeds_not_shown")]
    if unshown:
        out.append(
            "Too few epochs for the convergence rule (not shown to converge): "
            f"{', '.join(unshown)}."
        )
    for m in seeds["models"]:
        for note in m["variance"]["notes"]:
            out.append(f"{m['model']}: {note}.")
    return out


#: the models over seeds, one row per model (its runs grouped: :mod:`.replicates`)
MODELS_TABLE = Table(_MODEL_CAPTION, "seeds/models", "", MODEL_COLUMNS, hide_empty=True)
#: every pair of models with two seeds or more, tested with the training run as the unit
COMPARISONS_TABLE = Table(
    _COMPARISON_CAPTION, "seeds/comparisons", "", COMPARISON_COLUMNS, hide_empty=True
)
