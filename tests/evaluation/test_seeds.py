"""Issue 19: statistics with the training run as the unit, replicate grouping, equal terms.

The calibration tests simulate a model trained with many seeds as per-image log-likelihoods
``seed offset + image effect + noise`` (seeded, numbers stated): the seed offsets make one
network beat another of the same model on shared images, which the old image-level test calls
significant and the seed-level test must not (more often than about alpha)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.convergence import convergence, convergence_warnings
from evaluation.equal_terms import NOT_SHOWN, convergence_verdict, model_terms
from evaluation.replicates import group_runs, parse_groups
from evaluation.seed_statistics import (
    compare_all_models,
    compare_models,
    mc_variance_from_log_weights,
    probability_of_improvement,
    seeds_needed,
    summarise_model,
    variance_shares,
)
from evaluation.statistics import compare_paired
from pgm.errors import PgmError


def _model(rng, seeds, images, mean=-90.0, seed_sd=0.5, image_effect=None, noise=1.0):
    effect = image_effect if image_effect is not None else rng.normal(0, 8, images)
    offsets = rng.normal(mean, seed_sd, seeds)
    return offsets[:, None] + effect[None, :] + rng.normal(0, noise, (seeds, images))


def test_same_model_3_vs_3_is_calibrated_where_single_run_test_is_not():
    """16 seeds of one model, 200 disjoint 3-vs-3 splits (seed 0): the seed-level test calls at
    most 10% significant (alpha 0.05 plus sampling slack); the old one-network test far more."""
    rng = np.random.default_rng(0)
    images = 200
    effect = rng.normal(0, 8, images)
    ll = _model(rng, 16, images, image_effect=effect)
    hits = total = 0
    for _ in range(100):
        order = rng.permutation(16)
        for j in range(2):
            a, b = order[6 * j : 6 * j + 3], order[6 * j + 3 : 6 * j + 6]
            hits += compare_models("A", "B", ll[a], ll[b]).p_value <= 0.05
            total += 1
    assert hits / total <= 0.10
    old = [
        compare_paired("a", "b", ll[i], ll[i + 1], n_resamples=499).p_value <= 0.05
        for i in range(0, 16, 2)
    ]
    assert np.mean(old) >= 0.5


def test_real_difference_found_with_3_seeds():
    rng = np.random.default_rng(1)
    effect = rng.normal(0, 8, 150)
    a = _model(rng, 3, 150, mean=-85.0, image_effect=effect)
    b = _model(rng, 3, 150, mean=-95.0, image_effect=effect)
    c = compare_models("a", "b", a, b)
    assert c.p_value < 1e-4 and c.mean_difference_nats == pytest.approx(10, abs=1.5)
    assert c.probability_of_improvement == 1.0
    assert c.ci95[0] < c.mean_difference_nats < c.ci95[1]


def test_compare_all_models_holm_and_refusals():
    rng = np.random.default_rng(2)
    per_seed = {m: _model(rng, 3, 50, mean=mu) for m, mu in (("x", -80), ("y", -90), ("z", -100))}
    pairs = compare_all_models(per_seed)
    assert [(c.a, c.b) for c in pairs] == [("x", "y"), ("x", "z"), ("y", "z")]
    assert all(c.p_value_adjusted >= c.p_value for c in pairs)
    with pytest.raises(PgmError, match=">= 2 seeds"):
        compare_models("a", "b", per_seed["x"][:1], per_seed["y"])
    with pytest.raises(PgmError, match="same 50 test images"):
        compare_models("a", "b", per_seed["x"], per_seed["y"][:, :10])


def test_two_level_interval_includes_seed_variance():
    """Seed spread 3 nats, images spread 1: the two-level interval is much wider than the
    interval of one run's mean over images; one seed gives no interval at all."""
    rng = np.random.default_rng(3)
    ll = _model(rng, 8, 300, seed_sd=3.0, image_effect=rng.normal(0, 1, 300), noise=0.1)
    s = summarise_model("m", ll, n_resamples=500)
    image_only = 2 * 1.96 * ll[0].std(ddof=1) / np.sqrt(300)
    assert s.ci95[1] - s.ci95[0] > 5 * image_only
    assert summarise_model("m", ll[:1]).ci95 is None


def test_variance_shares_and_mc():
    rng = np.random.default_rng(4)
    ll = _model(rng, 10, 400, seed_sd=2.0, image_effect=rng.normal(0, 2, 400), noise=0.1)
    v = variance_shares(ll, np.full(ll.shape, 0.01))
    assert sum(v["shares"].values()) == pytest.approx(1)
    assert v["shares"]["seeds"] > 0.8 and v["shares"]["monte_carlo"] < 0.01
    one = variance_shares(ll[:1])
    assert one["shares"]["seeds"] is None and one["shares"]["monte_carlo"] is None
    assert len(one["notes"]) == 2
    # equal weights: no Monte Carlo variance; K = 1: none either
    assert np.allclose(mc_variance_from_log_weights(np.zeros((5, 3))), 0)
    assert np.allclose(mc_variance_from_log_weights(np.zeros((1, 3))), 0)
    assert (mc_variance_from_log_weights(rng.normal(0, 1, (50, 4))) > 0).all()


def test_probability_of_improvement_and_seeds_needed():
    assert probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert probability_of_improvement([1, 3], [2, 2]) == 0.5
    assert seeds_needed(1.0, 0.5) < seeds_needed(0.25, 0.5)


def _runs(*specs):
    base = {"model": "vae", "latent_dim": 16, "epochs": 40, "device": "cpu"}
    return [(name, f"/r/{name}", {**base, **extra}) for name, extra in specs]


def test_replicates_group_by_config_and_by_hand():
    runs = _runs(
        ("vae", {"seed": 0}),
        ("vae-seed1", {"seed": 1, "device": "cuda"}),
        ("vamp", {"seed": 0, "prior": "vamp"}),
        ("vamp-b", {"seed": 1, "prior": "vamp", "lr": 1e-3}),
    )
    groups = group_runs(runs)
    assert [(g.model, g.runs) for g in groups] == [
        ("vae", ["vae", "vae-seed1"]),
        ("vamp", ["vamp"]),
        ("vamp-b", ["vamp-b"]),
    ]
    manual = group_runs(runs, parse_groups(["V=vamp,vamp-b"]))
    assert manual[0].model == "V" and manual[0].config_differences == ["lr"]
    with pytest.raises(PgmError, match="--group: expected NAME=RUN"):
        parse_groups(["novalue"])
    with pytest.raises(PgmError, match="found 'nope'"):
        group_runs(runs, {"G": ["nope"]})
    twice = _runs(("a", {"seed": 0}), ("b", {"seed": 0}), ("c", {"seed": 1}))
    assert [g.runs for g in group_runs(twice)] == [["a", "c"], ["b"]]
    with pytest.raises(PgmError, match="one network trained twice"):
        group_runs(twice, {"G": ["a", "b"]})


def test_a_hand_group_of_different_configs_is_warned():
    """``--group a=VAE_RUN,PIXELCNN_RUN`` was averaged as one model's seeds without a word."""
    from evaluation.sections.seeds import mixed_group_warnings

    runs = _runs(("v", {"seed": 0}), ("p", {"seed": 0, "model": "pixelcnn"}), ("w", {"seed": 1}))
    groups = group_runs(runs, parse_groups(["a=v,p"]))
    seeds = {"models": [g.as_dict() for g in groups]}
    (warning,) = mixed_group_warnings(seeds)
    assert warning["code"] == "group-mixes-configs" and warning["model"] == "a"
    assert "differ in model, not only in seed" in warning["message"]


def test_two_copies_of_one_run_are_warned_as_one_network_not_seeds():
    """``cp -r R R2; pgm compare R R2`` compared two models without a word."""
    from evaluation.sections.seeds import same_network_warnings

    cfg = {"model": "vae", "latent_dim": 2, "seed": 0}
    runs = [("R", cfg), ("R2", dict(cfg)), ("R-seed1", {**cfg, "seed": 1})]
    (warning,) = same_network_warnings(runs)
    assert warning["code"] == "same-config-and-seed" and warning["model"] == "R"
    assert warning["message"].startswith("R, R2: the same config and the same seed")
    assert same_network_warnings([runs[0], runs[2]]) == []  # two seeds: no warning


def test_too_short_run_is_not_shown_to_converge_and_warned():
    conv = convergence([{"epoch": 1, "valid_loss": 90.0}, {"epoch": 2, "valid_loss": 89.0}])
    assert convergence_verdict(conv) == (None, NOT_SHOWN)
    comps = [{"a": "short", "b": "other", "significant": True}]
    kinds = [w["code"] for w in convergence_warnings({"short": conv}, comps)]
    assert "not-shown-to-converge" in kinds and "ranking-not-converged" in kinds
    terms = model_terms(
        [
            {
                "parameters": 10,
                "epochs": 2,
                "train_seconds": 1.0,
                "converged": None,
                "convergence": NOT_SHOWN,
            },
            {
                "parameters": 10,
                "epochs": 3,
                "train_seconds": 3.0,
                "converged": True,
                "convergence": "converged (flat)",
            },
        ]
    )
    assert terms["parameters"] == 10 and terms["epochs"] == [2, 3]
    assert terms["seeds_converged"] == 1 and not terms["all_converged"]
    assert terms["train_seconds_mean"] == 2.0


def test_summary_of_one_model_over_seeds_leads_with_its_estimate():
    """Two seeds of one model printed only "summary:  Not converged ..." (a double space, and
    nothing about the model)."""
    from evaluation.seed_report import seed_summary_sentence

    model = {
        "model": "vae",
        "runs": ["vae", "vae-seed1"],
        "num_seeds": 2,
        "mean": -95.5,
        "ci95": [-96.9, -94.1],
        "equal_terms": {"all_converged": False},
    }
    results = {
        "seeds": {
            "unit": "training run",
            "models": [model],
            "comparisons": [],
            "single_seed_models": [],
        }
    }
    text = seed_summary_sentence(results)
    assert text.startswith("vae over 2 seeds: −95.50 nats [−96.90, −94.10]"), text
    assert "  " not in text


def test_seeds_equal_in_their_low_32_bits_are_one_network_not_two_seeds():
    """torch's generator reads a seed's low 32 bits: seeds 0 and 2**32 drew the same weights
    and counted as two seeds of one model."""
    import torch

    from evaluation.sections.seeds import same_network_warnings
    from inference.trainer import network_seed

    draws = []
    for seed in (5, 5 + 2**32):
        torch.manual_seed(seed)
        draws.append(torch.rand(3))
    assert torch.equal(*draws) and network_seed(5 + 2**32) == network_seed(5) == 5
    runs = _runs(("a", {"seed": 0}), ("b", {"seed": 2**32}), ("c", {"seed": 1}))
    assert [g.runs for g in group_runs(runs)] == [["a", "c"], ["b"]]
    with pytest.raises(
        PgmError, match=r"seed 4294967296 \(as torch reads it: its low 32 bits, 0\)"
    ):
        group_runs(runs, {"G": ["a", "b"]})
    cfg = {"model": "vae", "latent_dim": 2}
    (warning,) = same_network_warnings([("a", {**cfg, "seed": 0}), ("b", {**cfg, "seed": 2**32})])
    assert "differ only above their low 32 bits" in warning["message"]


def test_a_model_is_named_by_its_runs_whatever_their_order():
    """Runs vamp-s0..2 of one config made a model named after its best seed (``vamp-s1``), as
    if one network: the name is their common one, and the report's order does not change it."""
    from evaluation.replicates import model_name

    assert model_name(["vamp-s1", "vamp-s2", "vamp-s0"]) == "vamp-s*"
    assert model_name(["vae-seed2", "vae", "vae-seed1"]) == "vae"  # the suite's seeds
    assert model_name(["alpha", "beta"]) == "alpha+beta"
    assert model_name(["one"]) == "one"
    specs = [(f"vamp-s{i}", {"seed": i, "prior": "vamp"}) for i in (1, 2, 0)]
    for order in (specs, specs[::-1]):
        (group,) = group_runs(_runs(*order))
        assert group.model == "vamp-s*" and len(group.runs) == 3


def test_a_group_of_one_run_is_refused_naming_it():
    """``--group a=vae-s0`` was taken silently: one run is no model over seeds, and it kept
    vae-s0 out of the grouping by config, away from its own seed vae-s1."""
    runs = _runs(("vae-s0", {"seed": 0}), ("vae-s1", {"seed": 1}))
    with pytest.raises(PgmError) as caught:
        group_runs(runs, parse_groups(["a=vae-s0"]))
    assert str(caught.value).startswith(
        "--group: expected two runs or more in a group (the seeds of one model); found vae-s0 "
        "alone in a"
    )
    assert [g.runs for g in group_runs(runs)] == [["vae-s0", "vae-s1"]]


def test_a_group_named_like_a_run_outside_it_is_refused():
    """``--group vae-s1=vamp-s0,vamp-s1`` beside a run vae-s1: "vae-s1" meant a model in one
    table and a run in another. A group may take the name of one of its own runs."""
    runs = _runs(("vamp-s0", {"seed": 0}), ("vamp-s1", {"seed": 1}), ("vae-s1", {"seed": 1}))
    with pytest.raises(PgmError, match="found vae-s1, the name of a run not in it"):
        group_runs(runs, {"vae-s1": ["vamp-s0", "vamp-s1"]})
    assert group_runs(runs, {"vamp-s0": ["vamp-s0", "vamp-s1"]})[0].model == "vamp-s0"


def test_seed_posterior_draws_resample_seeds_per_model_and_images_for_all():
    """idata.nc's ``seed_posterior``: a model's mean over its seeds, drawn by resampling its
    seeds and the test images, the same images for every model. Two models equal but for one
    nat on every image and seed differ by exactly one nat in every draw (paired over images);
    a model whose seeds differ spreads its draws by about its seeds' spread."""
    from evaluation.inference_data import seed_posterior

    rng = np.random.default_rng(0)
    x = rng.normal(-90.0, 5.0, size=200)
    per_seed = {"a": np.tile(x, (3, 1)), "b": np.tile(x - 1.0, (3, 1))}
    draws = seed_posterior(per_seed, seed=1)["mean_log_likelihood"]
    assert list(draws.model.values) == ["a", "b"]  # best mean first
    diff = (draws.sel(model="a") - draws.sel(model="b")).values
    assert np.allclose(diff, 1.0)
    # seeds 4 nats apart on a flat image set: draws spread over seeds alone (tolerance: the
    # bootstrap sd of the mean of 4 values {0, 0, 4, 4} is 2 / sqrt(4) = 1, within 10%)
    flat = np.zeros((4, 50)) + np.array([[0.0], [0.0], [4.0], [4.0]])
    spread = seed_posterior({"c": flat}, seed=2)["mean_log_likelihood"].values.ravel()
    assert abs(spread.mean() - 2.0) < 0.1 and abs(spread.std() - 1.0) < 0.1


def test_a_group_name_follows_the_label_rule():
    """``--group`` NAME was taken as given (300 characters, ``$``, newlines) into every table
    and figure: it follows --label's rule."""
    with pytest.raises(PgmError, match="--group: expected a model NAME of letters, digits"):
        parse_groups(["a\nb=x,y"])
    with pytest.raises(PgmError, match="--group: expected a model NAME"):
        parse_groups(["x" * 300 + "=x,y"])
    assert parse_groups(["vae.v2=x,y"]) == {"vae.v2": ["x", "y"]}
