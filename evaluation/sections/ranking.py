"""The ranking: every density model's per-image log-likelihood and ELBO from the shared
estimator on the same images (:mod:`..log_likelihood`), per-model means with BCa intervals,
every pairwise paired test with Holm's adjustment, ranks and tie groups (:mod:`..statistics`);
its table and the forest plot."""

from __future__ import annotations

import torch

from pgm.plain_model import PlainModel

from ..compared_run import ComparedRun, relative_to_report
from ..comparison import Comparison
from ..evaluate_run import summarise
from ..figures import FigureFile, forest_plot
from ..log_likelihood import bits_per_dim, estimate
from ..replicates import group_runs, parse_groups
from ..statistics import compare_all, rank_models, summarise_mean
from ..tables import Column, Table, printable
from .section import Section

__all__ = ["SECTION"]

# what distinguishes one VAE of the suite from another, shown next to its name
# (num_particles here is the training objective's K, not the evaluation's)
_DETAIL_KEYS = ("prior", "guide", "likelihood", "elbo", "num_particles", "latent_dim")

TABLE = Table(
    (
        "Test log-likelihood per trained network (one run; a model's seeds are its networks: "
        "see Models over seeds), best first. Group letters: networks sharing a letter are not "
        "distinguishable (Holm-adjusted paired tests; two seeds of one model are not tested "
        "against each other); rank range: the ranks the data leave possible."
    ),
    "models",
    "",
    [
        Column("rank", "rank", "d"),
        Column(
            "rank range",
            "rank_range",
            "d",
            "1 + #models significantly better … M − #models significantly worse",
        ),
        Column("group", "group"),
        Column("model", "model"),
        Column(
            "log p(x) nats",
            "log_likelihood_nats",
            ".2f",
            "mean over test images of the K-sample estimate",
        ),
        Column("95% CI", "ci95", ".2f", "BCa bootstrap interval of the mean"),
        Column("SE", "standard_error_nats", ".3f", "standard error of the mean"),
        Column("bits/dim", "bits_per_dim", ".4f"),
        Column("bits/dim 95% CI", "bits_per_dim_ci95", ".4f"),
        Column("ELBO nats", "elbo_nats", ".2f"),
        Column(
            "gap nats",
            "gap_nats",
            ".2f",
            "log p(x) − ELBO: the inference gap the K samples close",
        ),
        Column("K", "num_particles", "d"),
        Column(
            "training",
            "training",
            "",
            "validation loss at the last epoch: still falling, flat or over-fitting (see Method)",
        ),
    ],
)

#: the keys the diagnostics sections fill in (None where a model has no latents)
_DIAGNOSTIC_KEYS = (
    "psis_khat",
    "psis_khat_max",
    "psis_khat_unreliable_fraction",
    "ess_mean",
    "ess_min",
    "rate_nats",
    "distortion_nats",
    "active_units",
)


def _interval_bits(ci, num_dims: int) -> list[float]:
    """bits/dim decreases as log p(x) increases: the interval's ends swap."""
    return [float(bits_per_dim(ci[1], num_dims)), float(bits_per_dim(ci[0], num_dims))]


def _model_row(run: ComparedRun, c: Comparison) -> dict:
    data, o = c.data, c.options
    row = summarise(run.name, run.cfg, run.est, data.num_dims, run.has_latents)
    details = {k: run.cfg[k] for k in _DETAIL_KEYS if k in run.cfg} if run.has_latents else {}
    if isinstance(run.model, PlainModel):  # a hand-written pair: the VAE part keys do not apply
        details = {k: v for k, v in details.items() if k not in ("prior", "guide", "likelihood")}
        details["latent_dim"] = run.model.latent_dim
    s = summarise_mean(
        run.est.log_likelihood.double().numpy(), n_resamples=o.n_resamples, seed=o.seed
    )
    conv = c.convergences[run.name]
    row.update(
        {
            "details": details,
            "description": run.describe(),
            "convergence": conv,
            "training": conv["status"],
            "has_latents": run.has_latents,
            "standard_error_nats": s.standard_error,
            "ci95": list(s.ci95),
            "bits_per_dim_ci95": _interval_bits(s.ci95, data.num_dims),
            "gap_nats": row["log_likelihood_nats"] - row["elbo_nats"] if run.has_latents else None,
            **dict.fromkeys(_DIAGNOSTIC_KEYS),
            "latent_dim": int(run.model.latent_dim) if run.has_latents else None,
            "status": "ok",
            "run": relative_to_report(run.path, c.out),
        }
    )
    return row


def _estimate(c: Comparison) -> None:
    """The shared estimator on the same images, for every density model."""
    o, x = c.options, c.x
    c.dense = [r for r in c.runs if r.has_density]
    for run in c.dense:
        c.say(
            f"  log-likelihood: {printable(run.name)} "
            f"(K = {o.num_particles if run.has_latents else 1}, {len(x)} images)"
        )
        torch.manual_seed(o.seed)
        run.est = estimate(
            run.model, None, x, o.num_particles, return_log_weights=True, progress=o.progress
        )
        run.row = _model_row(run, c)


def _rank(c: Comparison) -> None:
    """Best first, so that each comparison's a is the better model; then the runs grouped into
    models (:mod:`..replicates`), and the tests and ranks of the networks: two seeds of one
    model are not tested against each other (their difference is training variance, which the
    seeds section measures), so no pair of them is called different."""
    o = c.options
    c.dense.sort(key=lambda r: -r.row["log_likelihood_nats"])
    manual = parse_groups(list(o.groups) if o.groups else None)
    c.model_groups = group_runs([(r.name, r.path, r.cfg) for r in c.dense], manual)
    model_of = {name: g.model for g in c.model_groups for name in g.runs}
    lls = {r.name: r.est.log_likelihood.double().numpy() for r in c.dense}
    comparisons = compare_all(
        lls,
        alpha=o.alpha,
        n_resamples=o.n_resamples,
        seed=o.seed,
        skip=lambda a, b: model_of[a] == model_of[b],
    )
    m = len(c.dense)
    c.results["seed_pairs_not_compared"] = m * (m - 1) // 2 - len(comparisons)
    ranking = rank_models(
        [r.name for r in c.dense], [r.row["log_likelihood_nats"] for r in c.dense], comparisons
    )
    for run, rank in zip(c.dense, ranking, strict=True):
        run.row.update({k: rank[k] for k in ("rank", "rank_range", "group")})
    c.results["models"] = [r.row for r in c.dense]  # the rows, filled in by later sections
    c.results["comparisons"] = [comp.as_dict() for comp in comparisons]
    c.results["ranking"] = ranking


def compute(c: Comparison) -> None:
    with c.timed("log_likelihood"):
        _estimate(c)
    with c.timed("statistics"):
        _rank(c)


def figures(c: Comparison) -> list[FigureFile]:
    return [
        FigureFile(
            "forest.png",
            "Mean test log-likelihood with 95% BCa intervals (group letters in brackets); "
            "crosses: ELBO.",
            "ranking",
            *forest_plot(c.results["models"], with_svg=True),
        )
    ]


SECTION = Section(
    "ranking",
    "Trained networks: log-likelihood and ranking",
    tables=[TABLE],
    compute=compute,
    figures=figures,
    latex=["ranking"],
)
