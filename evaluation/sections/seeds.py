"""Models over seeds and equal terms (issue 19): the runs grouped into models (runs whose
configs differ only in ``seed``, or ``--group NAME=RUN,...``), each model's estimate and
interval over its seeds, where its variance comes from, the pairwise tests with the training
run as the unit, and each model's parameters, epochs, training time and convergence
(:mod:`..seed_results`; words and tables: :mod:`..seed_report`). It also writes each run's
``equal_terms`` and ``replicate_of`` into its row of ``models``."""

from __future__ import annotations

from .. import warnings_text as text
from ..comparison import Comparison
from ..figures import FigureFile, seed_forest_plot
from ..seed_report import COMPARISONS_TABLE, MODELS_TABLE, seed_paragraphs
from ..warning_record import warning_record
from .section import Section

__all__ = ["SECTION", "mixed_group_warnings", "same_network_warnings"]

#: bootstrap resamples of the two-level (seeds, then images) bootstrap, at most
MAX_RESAMPLES = 2000


def compute(c: Comparison) -> None:
    """``results["seeds"]`` from the density runs' per-image estimates (the ranking's)."""
    # every run, an autoencoder's too (the representation table lists each): a copied run is
    # one network, not two
    c.warnings.extend(same_network_warnings([(r.name, r.cfg) for r in c.runs]))
    if not c.dense:
        return
    from ..seed_results import seed_results

    o = c.options
    with c.timed("seeds"):
        seeds = seed_results(
            c.dense, c.model_groups, o.alpha, min(o.n_resamples, MAX_RESAMPLES), o.seed
        )
    c.results["seeds"] = seeds
    c.warnings.extend(mixed_group_warnings(seeds))
    single = seeds["single_seed_models"]
    if single:  # one trained network: training variance is not in its intervals and tests
        c.warnings.append(
            warning_record(
                "training-variance-not-included",
                None,
                "num_seeds",
                len(single),
                2,
                text.one_network_per_model([] if seeds["unit"] == "network" else single),
            )
        )


def mixed_group_warnings(seeds: dict) -> list[dict]:
    """One warning per ``--group`` whose runs differ in more than the seed (``seeds``: the
    ``results["seeds"]`` of :func:`..seed_results.seed_results`)."""
    return [
        warning_record(
            "group-mixes-configs",
            m["model"],
            "config_differences",
            m["config_differences"],
            None,
            text.group_mixes_configs(m["model"], m["runs"], m["config_differences"]),
        )
        for m in seeds["models"]
        if m.get("grouped") == "by hand" and m.get("config_differences")
    ]


def same_network_warnings(runs: list[tuple[str, dict]]) -> list[dict]:
    """One warning per set of runs (``(name, resolved config)``) with the same config and the
    same seed: one network trained twice, or a copy of one run, so not seeds of one model;
    they are compared as separate networks."""
    from inference.trainer import network_seed

    from ..replicates import replicate_key

    same: dict[tuple, list[str]] = {}
    seeds: dict[tuple, set[str]] = {}
    for name, cfg in runs:
        key = (replicate_key(cfg), repr(network_seed(cfg.get("seed"))))
        same.setdefault(key, []).append(name)
        seeds.setdefault(key, set()).add(repr(cfg.get("seed")))
    return [
        warning_record(
            "same-config-and-seed",
            names[0],
            "seed",
            key[1],
            None,
            text.same_network(names, low_bits=len(seeds[key]) > 1),
        )
        for key, names in same.items()
        if len(names) > 1
    ]


def figures(c: Comparison) -> list[FigureFile]:
    """The models over their seeds (with some model of two seeds or more)."""
    if not leads(c.results):
        return []
    return [
        FigureFile(
            "forest-seeds.png",
            "Mean test log-likelihood of each model over its seeds with its two-level 95% "
            "interval (seeds, then test images; group letters over seeds in brackets); grey "
            "dots: each seed's mean.",
            "seeds",
            *seed_forest_plot(c.results["seeds"]["models"], with_svg=True),
        )
    ]


def leads(results: dict) -> bool:
    """Some model has two seeds or more: then the models, not the networks, head the page."""
    seeds = results.get("seeds")
    return isinstance(seeds, dict) and seeds.get("unit") != "network"


SECTION = Section(
    "seeds",
    "Models over seeds and equal terms",
    tables=[MODELS_TABLE, COMPARISONS_TABLE],
    compute=compute,
    figures=figures,
    text=seed_paragraphs,
    latex=["seed-models", "seed-comparisons"],
    leads=leads,
)
