"""The ``seeds`` part of ``results.json``: the runs grouped into models (:mod:`.replicates`),
each model's estimate over its seeds, its variance shares and equal terms, and the pairwise
tests with the training run as the unit (:mod:`.seed_statistics`).

:func:`seed_results` is called by :func:`evaluation.compare.compare_runs` once every density
run has its per-image estimate; it also puts each run's equal terms (:mod:`.equal_terms`) and
its model's name into the run's row.
"""

from __future__ import annotations

import numpy as np

from inference import read_metrics

from .convergence import convergence
from .equal_terms import model_terms, run_terms
from .replicates import group_runs, parse_groups
from .seed_statistics import (
    POWER,
    compare_all_models,
    mc_variance_from_log_weights,
    minimal_detectable_difference,
    seeds_needed,
    summarise_model,
    variance_shares,
)
from .statistics import rank_models

__all__ = ["DIFFERENCES", "check_groups", "seed_results"]

#: differences (nats) for which the page says how many seeds they need
DIFFERENCES = (0.25, 0.5, 1.0)


def _mc_variance(run) -> np.ndarray | None:
    lw = run.est.log_weights
    return None if lw is None else mc_variance_from_log_weights(lw.double().cpu().numpy())


def _model_entry(group, runs, n_resamples: int, seed: int, alpha: float) -> dict:
    ll = np.stack([r.est.log_likelihood.double().cpu().numpy() for r in runs])
    mcs = [_mc_variance(r) for r in runs]
    mc = None if any(m is None for m in mcs) else np.stack(mcs)
    summary = summarise_model(group.model, ll, n_resamples=n_resamples, seed=seed)
    entry = {
        **group.as_dict(),
        **summary.as_dict(),
        "variance": variance_shares(ll, mc),
        "equal_terms": model_terms([r.row["equal_terms"] for r in runs]),
    }
    s = group.num_seeds
    if s >= 2 and summary.seed_sd is not None:
        # against a model with the same seed spread and as many seeds (seed term only)
        entry["minimal_detectable_difference"] = minimal_detectable_difference(
            summary.seed_sd * (2 / s) ** 0.5, 2 * s - 2, alpha
        )
        entry["seeds_needed"] = {
            str(d): seeds_needed(d, summary.seed_sd, alpha) for d in DIFFERENCES
        }
    else:
        entry["minimal_detectable_difference"] = None
        entry["seeds_needed"] = None
    return entry


def seed_results(
    dense: list,
    model_groups: list,
    alpha: float,
    n_resamples: int,
    seed: int,
) -> dict:
    """The seed-level statistics of the density runs (:class:`.compared_run.ComparedRun` with
    ``est`` and ``row``) grouped into models (``model_groups``: :func:`.replicates.group_runs`'
    :class:`~.replicates.ModelGroup` list). Returns the ``seeds`` dict of ``results.json``."""
    by_name = {r.name: r for r in dense}
    for r in dense:
        metrics = read_metrics(r.path)
        r.row["equal_terms"] = run_terms(r.model, r.cfg, metrics, convergence(metrics))
    for g in model_groups:
        for name in g.runs:
            by_name[name].row["replicate_of"] = g.model
    models = [
        _model_entry(g, [by_name[n] for n in g.runs], n_resamples, seed, alpha)
        for g in model_groups
    ]
    models.sort(key=lambda m: -m["mean"])
    replicated = [m for m in models if m["num_seeds"] >= 2]
    per_seed = {
        m["model"]: np.stack(
            [by_name[n].est.log_likelihood.double().cpu().numpy() for n in m["runs"]]
        )
        for m in replicated
    }
    tested = compare_all_models(per_seed, alpha)
    # the models' ranking: ranks, rank ranges and letters from the tests over seeds (a model
    # of one seed is not compared over seeds: no rank)
    ranked = {
        r["model"]: r for r in rank_models(list(per_seed), [m["mean"] for m in replicated], tested)
    }
    for m in models:
        r = ranked.get(m["model"], {})
        m.update({k: r.get(k) for k in ("rank", "rank_range", "group")})
    comparisons = [c.as_dict() for c in tested]
    unit = (
        "training run"
        if len(replicated) == len(models)
        else "network"
        if not replicated
        else "mixed"
    )
    return {
        "unit": unit,
        "models": models,
        "comparisons": comparisons,
        "single_seed_models": [m["model"] for m in models if m["num_seeds"] < 2],
        "alpha": alpha,
        "power": POWER,
        "bootstrap": "two-level (seeds, then test images), percentile",
        "test": "Welch's t over per-seed means, image term paired over the shared test images",
        "adjustment": "holm",
    }


def check_groups(density_runs: list, groups: list[str] | None) -> dict[str, list[str]]:
    """``--group`` parsed and checked against the runs before any estimate is computed (a bad
    group is refused in one line, not after minutes of evaluation)."""
    manual = parse_groups(groups)
    group_runs([(r.name, r.path, r.cfg) for r in density_runs], manual)
    return manual
