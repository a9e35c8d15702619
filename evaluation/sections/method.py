"""The Method section: the test set, the estimator, the statistics, the diagnostics' rules, the
training of each run and the software and hardware the report was made with, as recorded in
``results.json``'s ``method``."""

from __future__ import annotations

from .. import diagnostics as diag
from ..comparison import Comparison
from ..convergence import RULE as CONVERGENCE_RULE
from ..provenance import command_line, hardware, made_at, plugin_names, versions
from .section import Section

__all__ = ["SECTION", "method_paragraphs"]


def compute(c: Comparison) -> None:
    o = c.options
    c.results["method"] = {
        "dataset": c.data.name,
        "split": o.split,
        "num_images": len(c.x),
        "num_dims": int(c.data.num_dims),
        "num_levels": int(c.data.num_levels),
        "num_particles": o.num_particles,
        "seed": o.seed,
        "alpha": o.alpha,
        "confidence_level": 0.95,
        "bootstrap": "BCa",
        "n_resamples": o.n_resamples,
        "test": "paired two-sided sign-flip randomisation test of the mean difference",
        "adjustment": "holm",
        "num_comparisons": len(c.results["comparisons"]),
        "khat_unreliable": diag.KHAT_UNRELIABLE,
        "curve_images": min(o.curve_images, len(c.x)),
        "curve_max_particles": o.curve_max_particles,
        "active_unit_threshold": diag.ACTIVE_UNIT_THRESHOLD,
        "convergence_rule": CONVERGENCE_RULE,
        "runs": {
            r.name: {**r.training_method(c.out), "plugins": plugin_names(r.cfg)} for r in c.runs
        },
        "versions": versions(),
        "date": made_at(),
        "hardware": hardware(),
        "command": command_line(),
    }


def _epochs_text(run: dict) -> str:
    """``40 epochs, 12.3 s`` or, with early stopping, ``87 of at most 500 epochs (patience 10)``."""
    ran, cap = run.get("epochs_run") or run.get("epochs"), run.get("epochs")
    text = (
        f"{ran} of at most {cap} epochs (early stopping, patience {run['patience']})"
        if run.get("patience")
        else f"{cap} epochs"
    )
    return text + (
        f", {run['train_seconds']:.0f} s" if run.get("train_seconds") is not None else ""
    )


def method_paragraphs(results: dict) -> list[str]:
    """The method section as plain-text paragraphs (shared by the HTML and Markdown reports)."""
    m = results["method"]
    runs = "; ".join(
        f"{name}: {r['architecture']}, seed {r['seed']}, {_epochs_text(r)}"
        for name, r in m["runs"].items()
    )
    return [
        (
            f"Test set: the {m['split']} split of {m['dataset']}, {m['num_images']} images of "
            f"{m['num_dims']} dimensions with {m['num_levels']} levels each; every model is "
            "evaluated on the same images."
        ),
        (
            "Estimator: log p(x) ≈ log (1/K) Σ_k p(x, z_k)/q(z_k|x), z_k ~ q(z|x) (Burda et al. "
            f"2016, eq. 8), per image, with K = {m['num_particles']} importance samples from each "
            "model's own guide; exact (K = 1) for models without latent variables. The mean of "
            "the same log-weights is the ELBO. The estimate is a stochastic lower bound of "
            "log p(x) whose bias shrinks as K grows (see the K-curves); bits/dim = "
            "−log p(x) / (D ln 2)."
        ),
        (
            "Intervals: BCa bootstrap (Efron 1987) of the mean over test images, "
            f"{m['n_resamples']} resamples, 95%; they reflect the sampling of test images "
            "together with the Monte Carlo noise of the estimator, not its bias, and not "
            "training variance: each is one trained network's"
            + (
                " (over seeds: see Models over seeds)."
                if (results.get("seeds") or {}).get("unit") in ("training run", "mixed")
                else "; with one run per model they compare these networks, not the models."
            )
        ),
        (
            "Comparisons: every pair of models on the same images, through the per-image "
            "differences; two-sided sign-flip randomisation test of the mean difference "
            f"({m['n_resamples']} resamples; Fisher 1935), Wilcoxon's signed-rank test for "
            "reference; p-values adjusted by Holm's (1979) step-down procedure over the "
            f"{m['num_comparisons']} comparisons, significance at family-wise level "
            f"α = {m['alpha']}. Models sharing a group letter are not separated by any "
            "significant comparison."
        ),
        (
            "Diagnostics: PSIS k-hat (Vehtari et al. 2024) of each image's K log-weights "
            "through ArviZ; one rule throughout (tables, figure, warnings): k-hat > "
            f"{m['khat_unreliable']} marks an unreliable estimate. Estimate against K on the "
            f"first {m['curve_images']} test images with up to {m['curve_max_particles']} "
            "samples, each point averaged over disjoint blocks of K samples. Active units: "
            f"Cov_x(E_q[z_u|x]) > {m['active_unit_threshold']} (Burda et al. 2016)."
        ),
        (
            "Training: each model was trained for the epochs stated below, with the weights of its "
            "best validation epoch kept; "
            + m.get("convergence_rule", "")
            + ". A model still falling was trained for a budget, not to convergence: its rank "
            "reflects the budget as much as the model."
        ),
        f"Seeds: importance samples and bootstrap resamples seeded with {m['seed']}. Runs: {runs}.",
        "Software: "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f". Comparison step: {m['seconds']:.1f} s.",
        *_provenance(m),
    ]


def _provenance(m: dict) -> list[str]:
    """When, on what and by which command the report was made (absent in older results)."""
    if "date" not in m:
        return []
    hw = m.get("hardware") or {}
    machine = f"{hw.get('cpu', 'unknown CPU')} ({hw.get('cpu_cores')} logical cores)"
    machine += f", GPU {hw['gpu']}" if hw.get("gpu") else ", no GPU"
    return [f"Made {m['date']} on {machine}, {hw.get('platform', '')}; command: {m['command']}."]


SECTION = Section("method", "Method", compute=compute, text=method_paragraphs)
