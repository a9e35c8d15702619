"""Estimators as registered units: a plug-in file alone adds one that `pgm evaluate --method`
runs; evaluation files keyed by split, method, settings and images, reused, never overwritten;
AIS shows its HMC acceptance and step size; BDMC and AIS refuse what they cannot answer."""

from __future__ import annotations

import json
import textwrap

import pyro
import pyro.distributions as dist
import pytest
import torch
from tiny_run import TINY_RUN

from pgm_cli.main import main

PLUGIN = textwrap.dedent(
    """
    from evaluation.estimators import Estimator, EstimatorResult, register_estimator
    from evaluation.log_likelihood import estimate


    @register_estimator
    class SingleSampleElbo(Estimator):
        name = "elbo1"
        description = "the ELBO with one sample per image (a lower bound)"

        def estimate(self, pair, settings, progress=False):
            est = estimate(pair, num_particles=1)
            return EstimatorResult(est.elbo, {"bound": "lower"})
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from inference import train

    folder = tmp_path_factory.mktemp("runs") / "vae"
    train(TINY_RUN, folder, progress=False)
    return folder


def _json_row(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_plugin_file_alone_adds_an_estimator(run, tmp_path, capsys):
    plugin = tmp_path / "estimator_plugin.py"
    plugin.write_text(PLUGIN)
    args = ["evaluate", str(run), "--num-images", "6", "--no-progress"]
    assert main([*args, "--plugin", str(plugin), "--method", "elbo1", "--json"]) == 0
    row = _json_row(capsys)
    assert row["method"] == "elbo1" and row["bound"] == "lower" and row["num_images"] == 6
    assert (run / "evaluation-test-elbo1-default-n6.json").is_file()
    # a K = 1 ELBO is below a K = 50 importance-sampled estimate of the same images (seed 0)
    assert main([*args, "-k", "50", "--json"]) == 0
    assert row["log_likelihood_nats"] < _json_row(capsys)["log_likelihood_nats"]
    # without the plug-in the name is unknown: one line naming the registered ones
    assert main([*args, "--method", "elbo2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--method: expected one of is, ais" in err and "'elbo2'" in err


def test_evaluation_files_are_keyed_and_reused(run, capsys, monkeypatch):
    args = ["evaluate", str(run), "--num-images", "5", "--no-progress", "--json"]
    assert main([*args, "-k", "100"]) == 0
    first = run / "evaluation-test-is-K100-n5.json"
    stamp = first.stat().st_mtime_ns
    assert main([*args, "-k", "200"]) == 0
    assert (run / "evaluation-test-is-K200-n5.json").is_file() and first.is_file()
    assert first.stat().st_mtime_ns == stamp  # the K = 200 evaluation wrote its own file
    # the same evaluation again: read back, not recomputed (the estimator is never called)
    import evaluation.estimators.importance as importance

    called = []
    original = importance.estimate

    def spy(*a, **k):
        called.append(1)
        return original(*a, **k)

    monkeypatch.setattr(importance, "estimate", spy)
    assert main(["evaluate", str(run), "--num-images", "5", "--no-progress", "-k", "100"]) == 0
    assert not called and first.stat().st_mtime_ns == stamp
    assert "(reused: same evaluation)" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--num-images", "4", "--no-progress", "-k", "100"]) == 0
    assert called  # another number of images is another evaluation


def test_evaluate_and_compare_share_one_default_k():
    from evaluation.defaults import DEFAULT_NUM_PARTICLES
    from evaluation.estimators import get_estimator
    from pgm_cli.main import build_parser

    parser = build_parser()
    compare = parser.parse_args(["compare", "r", "--out", "o"])
    evaluate = parser.parse_args(["evaluate", "r"])
    assert compare.num_particles == DEFAULT_NUM_PARTICLES
    assert get_estimator("is").settings(evaluate)["num_particles"] == DEFAULT_NUM_PARTICLES


def test_ais_prints_acceptance_and_step_size(run, capsys):
    args = ["evaluate", str(run), "--num-images", "3", "--method", "ais", "--no-progress"]
    assert main([*args, "-T", "6", "-C", "2", "--leapfrog", "2"]) == 0
    text = capsys.readouterr().out
    row = json.loads((run / "evaluation-test-ais-T6-C2-L2-n3.json").read_text())
    assert 0 <= row["accept_rate"] <= 1 and row["step_size"] > 0
    assert f"acceptance {row['accept_rate']:.2f}" in text
    assert f"step size {row['step_size']:.3f}" in text


def test_chains_are_bounded_like_steps(run, capsys):
    assert main(["bdmc", str(run), "--chains", str(10**12), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--chains" in err and "<= 100,000" in err
    assert not (run / "bdmc.json").exists()


def _observed_model(x):
    with pyro.plate("data", x.shape[0]):
        pyro.sample("x", dist.Bernoulli(0.3 * torch.ones(3)).to_event(1), obs=x)


def test_bdmc_refuses_a_model_without_latents():
    from evaluation.bdmc import bdmc
    from pgm.errors import PgmError

    with pytest.raises(PgmError, match="no latent variables, so log p.x. is exact") as err:
        bdmc(_observed_model, None, 4, 3, 2, data_shape=(3,))
    assert "\n" not in str(err.value)


def test_ais_refuses_bad_input_like_estimate():
    from evaluation.ais import ais
    from pgm.errors import PgmError

    x = torch.ones(2, 3)
    for kwargs, name in (
        ({"num_steps": 0}, "num_steps"),
        ({"num_chains": 10**6}, "num_chains"),
        ({"start": "posterior"}, "start"),
        ({"schedule": "cosine"}, "schedule"),
        ({"step_size": -1.0}, "step_size"),
    ):
        with pytest.raises(PgmError, match=f"^{name}: expected"):
            ais(_observed_model, None, x, **kwargs)
    with pytest.raises(PgmError, match="^x: expected a torch.Tensor"):
        ais(_observed_model, None, [[1.0]])
    with pytest.raises(PgmError, match="^model: expected a Pyro callable"):
        ais(3, None, x)
