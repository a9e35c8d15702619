"""The benchmarks measure what they say: the hand-written baselines compute the suite's numbers,
the step counter counts the recurrences, the timing and the table work (small sizes, fast)."""

from __future__ import annotations

import argparse
import json

import torch

import pgm
from benchmarks.estimator import hand_written_iwae
from benchmarks.results import render
from benchmarks.svi_step import hand_written_loss
from benchmarks.throughput import count_sequential_steps
from benchmarks.timing import compare, machine
from evaluation.log_likelihood import estimate
from inference.elbo import make_elbo

TINY = {
    "model": "vae",
    "image_shape": [1, 8, 8],
    "num_levels": 2,
    "hidden_dim": 16,
    "latent_dim": 4,
}


def test_hand_written_step_computes_the_suites_loss():
    model = pgm.build(TINY)
    x = torch.randint(0, 2, (6, 1, 8, 8)).float()
    elbo = make_elbo("trace", 1, 1)
    for _ in range(2):  # the first (Pyro-checked) call and the lean one
        torch.manual_seed(3)
        hand = hand_written_loss(model, x)
        torch.manual_seed(3)
        suite = elbo.differentiable_loss(model.model, model.guide, x) / x.shape[0]
        assert torch.allclose(hand.detach(), suite.detach(), rtol=1e-5)


def test_hand_written_iwae_agrees_with_the_estimator():
    model = pgm.build(TINY).eval()
    x = torch.randint(0, 2, (4, 1, 8, 8)).float()
    suite = estimate(model, x=x, num_particles=20_000).log_likelihood
    hand = hand_written_iwae(model, x, 20_000, chunk=3000)
    assert hand.shape == suite.shape == (4,)
    # two independent K = 20,000 estimates (seed 0): an untrained guide is a poor proposal, so
    # K is large enough for their Monte Carlo error to sit well inside 0.3 nats
    assert torch.allclose(hand, suite, atol=0.3)


def test_sequential_steps_are_counted():
    x = torch.randint(0, 2, (1, 1, 6, 5)).float()
    shape = {"image_shape": [1, 6, 5], "num_levels": 2, "num_layers": 2, "hidden_channels": 4}
    assert count_sequential_steps(pgm.build({"model": "pixelcnn", **shape}), x) == 0
    assert count_sequential_steps(pgm.build({"model": "row-lstm", **shape}), x) == 2 * 6
    assert count_sequential_steps(pgm.build({"model": "diagonal-bilstm", **shape}), x) == 2 * 2 * (
        6 + 5 - 1
    )


def test_timing_and_table():
    calls = []
    timings = compare(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3, repeat=2
    )
    assert calls.count("a") == calls.count("b") == 1 + 3 * 2
    assert all(len(t.cpu) == len(t.wall) == 3 for t in timings.values())
    results = [
        {
            "name": "svi_step",
            "suite_ms": 1.1,
            "baseline_ms": 1.0,
            "ratio": 1.1,
            "target": "<= 1.10",
            "passed": True,
        },
        {
            "name": "throughput",
            "setup": "tiny",
            "models": {
                "vae": {
                    "images_per_second": 10.0,
                    "images_per_cpu_second": 12.0,
                    "sequential_steps_per_image": 0,
                    "parameters": 5,
                }
            },
        },
    ]
    args = argparse.Namespace(quick=True, clock="cpu")
    text = render(results, machine(), args, 1.0)
    assert "| svi_step | 1.1 ms | 1 ms | 1.1 | <= 1.10 | yes |" in text
    assert "| vae | 10.0 | 12.0 | none | 5 |" in text
    assert json.dumps(results[0]) in text


def test_the_denormals_benchmark_times_a_runs_checkpoint_and_refuses_plugin_runs(tmp_path, capsys):
    from benchmarks.denormals import main as denormals
    from inference import train
    from tests.tiny_run import TINY_RUN

    config = TINY_RUN
    train(config, tmp_path / "run", progress=False)
    assert denormals([str(tmp_path / "run"), "--steps", "2", "--rounds", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["epoch"] == 1 and result["denormal_share_of_gradients"] == 0.0  # fresh net
    assert result["seconds_per_step_kept"] > 0 and result["seconds_per_step_flushed"] > 0
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    (tmp_path / "run" / "config.json").write_text(json.dumps({**cfg, "plugins": ["x.py"]}))
    assert denormals([str(tmp_path / "run")]) == 2
    assert "plug-ins" in capsys.readouterr().err


def test_the_denormals_benchmark_refuses_bad_runs_in_one_line(tmp_path, capsys):
    from benchmarks.denormals import main as denormals
    from inference import train
    from tests.tiny_run import TINY_RUN

    run = tmp_path / "run"
    train(TINY_RUN, run, progress=False)
    capsys.readouterr()
    assert denormals([str(run / "config.json")]) == 2  # a file, not a run folder
    assert "run: expected a run folder" in capsys.readouterr().err
    good = (run / "config.json").read_text()
    (run / "config.json").write_text("[" * 100_000 + "]" * 100_000)  # was a RecursionError
    assert denormals([str(run)]) == 2
    assert "nested too deeply" in capsys.readouterr().err
    (run / "config.json").write_text(good)
    checkpoint = sorted((run / "checkpoints").iterdir())[-1]
    checkpoint.write_bytes(b"garbage")  # was a CheckpointError traceback
    assert denormals([str(run)]) == 2
    out = capsys.readouterr().err.strip()
    assert "\n" not in out and checkpoint.name in out and "corrupted" in out
    mnist = json.loads(good) | {"data": "binarized-mnist"}  # its data file absent
    (run / "config.json").write_text(json.dumps(mnist))
    assert denormals([str(run), "--data-dir", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.startswith(
        "python -m benchmarks.denormals: error: data: expected"
    )
