"""Exact resume after SIGKILL at any moment: real ``pgm train`` processes are killed at precise
points (mid-epoch, half-way through writing a checkpoint, between a checkpoint and its metrics
line, mid-way through the metrics and the final weights) and after a random delay, each
resumed with ``--resume``; the final ``model.safetensors`` is bitwise identical to an
uninterrupted run's, and so are the metrics (timing fields aside) and the last checkpoint's
tensors.

The kill points are the test hook ``PGM_TEST_KILL_AT`` (``inference.kill_point.kill_point``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyro.distributions as dist
import pytest
import torch
from forking_cli import ForkingCLI, cli_env
from safetensors.torch import load_file

from inference import train
from inference.checkpoint import load_tensors

REPO = Path(__file__).resolve().parents[1]
TIMING = {"seconds", "images_per_second"}

# 200 images in batches of 50: 4 steps an epoch, 8 epochs, a checkpoint every epoch, 2 kept.
CONFIG = """
data = "digits"
model = "vae"
latent_dim = 2
hidden_dim = 16
num_train = 200
batch_size = 50
epochs = 8
lr = 3e-3
seed = 3
device = "cpu"
keep_checkpoints = 2
"""


def _argv(config: Path, run: Path, resume: bool) -> list[str]:
    return ["train", str(config), "--out", str(run), "--no-progress"] + (
        ["--resume"] if resume else []
    )


def _metrics(run: Path) -> list[dict]:
    """metrics.jsonl, each line parsed (so a half-written file fails here), timing left out."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1)), rows
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def _checkpoints(run: Path) -> list[str]:
    folder = run / "checkpoints"
    return sorted(p.name for p in folder.glob("epoch-*.safetensors")) if folder.is_dir() else []


def _temporaries(run: Path) -> list[str]:
    return sorted(p.name for p in run.rglob(".*.tmp"))


def test_resume_after_sigkill_at_any_moment_is_bitwise_exact(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    reference, run = tmp_path / "reference", tmp_path / "run"
    killed = -signal.SIGKILL
    # imports what `pgm train` imports while the first, exec'd, process runs; the test mixes
    # exec'd and forked processes in one chain, so a fork that computed otherwise would show
    cli = ForkingCLI("import pgm_cli.main, inference.trainer, sklearn.datasets, torch._dynamo")
    try:
        # 1. a real `python -m pgm_cli train`, killed mid-epoch 2 (global step 6): only
        #    epoch 1's checkpoint and metrics line exist.
        done = subprocess.run(
            [sys.executable, "-m", "pgm_cli", *_argv(config, run, False)],
            env=cli_env("step:6"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == killed, done.stderr
        assert _checkpoints(run) == ["epoch-00001.safetensors"] and len(_metrics(run)) == 1

        # the uninterrupted run
        started = time.monotonic()
        assert cli.run(_argv(config, reference, False)) == 0
        duration = time.monotonic() - started

        # 2. half-way through writing epoch 3's checkpoint: the half file is a hidden
        #    temporary, the visible checkpoints are whole.
        assert cli.run(_argv(config, run, True), "write:epoch-00003.safetensors") == killed
        assert _checkpoints(run) == ["epoch-00001.safetensors", "epoch-00002.safetensors"]
        assert any(name.startswith(".epoch-00003.safetensors.") for name in _temporaries(run))
        for name in _checkpoints(run):
            load_tensors(run / "checkpoints" / name)
        assert len(_metrics(run)) == 2

        # 3. between epoch 4's checkpoint and its metrics line: metrics lag the checkpoint.
        assert cli.run(_argv(config, run, True), "after-checkpoint:4") == killed
        assert _checkpoints(run)[-1] == "epoch-00004.safetensors" and len(_metrics(run)) == 3
        assert _temporaries(run) == []  # the resume cleared step 2's half file

        # 4. half-way through rewriting metrics.jsonl on resume: the old file stays whole.
        assert cli.run(_argv(config, run, True), "write:metrics.jsonl") == killed
        assert len(_metrics(run)) == 3

        # 5. after a random delay (a resume from epoch 4 does about half the work of a run);
        #    the process may also finish first.
        delay = random.Random(20240601).uniform(0.0, duration / 2)
        pid = cli.start(_argv(config, run, True))
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        status = cli.wait()
        assert status in (killed, 0), f"exit {status} after {delay:.3f} s"
        _metrics(run)

        # 6. half-way through writing the final weights (unless step 5 finished the run).
        status = cli.run(_argv(config, run, True), "write:model.safetensors")
        assert status in (killed, 0)
        if status == killed:
            assert not (run / "model.safetensors").exists()

        # 7. the last resume finishes.
        assert cli.run(_argv(config, run, True)) == 0
    finally:
        err = cli.close()
    assert cli.proc.returncode == 0, err

    assert (run / "model.safetensors").read_bytes() == (
        reference / "model.safetensors"
    ).read_bytes()
    assert _metrics(run) == _metrics(reference) and len(_metrics(run)) == 8
    assert _checkpoints(run) == _checkpoints(reference)
    last = _checkpoints(run)[-1]
    mine, theirs = (
        load_file(run / "checkpoints" / last),
        load_file(reference / "checkpoints" / last),
    )
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert _temporaries(run) == []


TINY = {
    "data": "digits",
    "model": "vae",
    "latent_dim": 2,
    "hidden_dim": 16,
    "num_train": 100,
    "batch_size": 50,
    "epochs": 3,
    "lr": 3e-3,
    "seed": 1,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> bytes:
    """The final weights of TINY trained without interruption."""
    run = tmp_path_factory.mktemp("straight") / "run"
    train(TINY, run, progress=False)
    return (run / "model.safetensors").read_bytes()


def test_resume_extends_epochs_exactly(tmp_path, straight):
    """Stopping after 2 epochs and resuming to 3 (``epochs`` may change on resume) equals 3."""
    train({**TINY, "epochs": 2}, tmp_path / "split", progress=False)
    train(TINY, tmp_path / "split", resume=True, progress=False)
    assert (tmp_path / "split" / "model.safetensors").read_bytes() == straight


def test_resume_of_a_folder_holding_nothing_starts_the_run(tmp_path, straight, caplog):
    """A kill before config.json was written leaves (at most) an empty folder: --resume starts,
    and says so (a mistyped --out would otherwise train afresh unnoticed)."""
    (tmp_path / "run").mkdir()
    with caplog.at_level("WARNING", logger="pgm"):
        result = train(TINY, tmp_path / "run", resume=True, progress=False)
    assert [m["epoch"] for m in result.metrics] == [1, 2, 3]
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == straight
    said = [r.getMessage() for r in caplog.records if r.name == "pgm"]
    assert said == [f"--resume: {tmp_path / 'run'} holds no run yet; training it from the start"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="pgm"):  # a real resume says nothing of the kind
        train({**TINY, "epochs": 4}, tmp_path / "run", resume=True, progress=False)
    assert not [r for r in caplog.records if "holds no run" in r.getMessage()]


def test_resume_rewrites_metrics_from_the_checkpoint(tmp_path):
    """metrics.jsonl lines past the last checkpoint (or missing ones) are made the checkpoint's."""
    run = tmp_path / "run"
    train({**TINY, "epochs": 2}, run, progress=False)
    path = run / "metrics.jsonl"
    path.write_text(path.read_text().splitlines()[0] + "\n")  # as if killed before line 2
    train(TINY, run, resume=True, progress=False)
    assert [json.loads(line)["epoch"] for line in path.read_text().splitlines()] == [1, 2, 3]


def test_a_resume_leaves_metrics_alone_when_they_are_the_checkpoints(tmp_path):
    """A resume makes metrics.jsonl its checkpoint's; one with nothing to change (here: the run
    is already at its epochs) rewrote it anyway, every line's keys in another order."""
    run = tmp_path / "run"
    train({**TINY, "epochs": 1}, run, progress=False)
    path = run / "metrics.jsonl"
    before = path.read_bytes()
    train({**TINY, "epochs": 1}, run, resume=True, progress=False)
    assert path.read_bytes() == before


@pytest.mark.parametrize("changes", [{"lr": 0.5}, {"hidden_dim": 8}])
def test_resume_refuses_another_config_and_leaves_the_run_alone(tmp_path, changes):
    run = tmp_path / "run"
    train({**TINY, "epochs": 1}, run, progress=False)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    key = next(iter(changes))
    with pytest.raises(
        ValueError, match=rf"^--resume: expected the run's own config .*{key} \(run has"
    ):
        train({**TINY, **changes}, run, resume=True, progress=False)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


class _ScoreFunctionNormal(dist.Normal):
    """A Normal that Pyro must not differentiate through: Trace_ELBO uses its score-function
    (REINFORCE) surrogate for the site."""

    has_rsample = False


def _score_function_guide(cfg: dict):
    import torch.nn.functional as F

    from pgm.guides import DiagonalNormalGuide, _encoder

    class ScoreFunctionGuide(DiagonalNormalGuide):
        def gaussian(self, x, features=None):
            h = torch.relu(self.encoder(x)) if features is None else features
            return _ScoreFunctionNormal(self.loc(h), F.softplus(self.scale(h)) + 1e-4).to_event(1)

    return ScoreFunctionGuide(_encoder(cfg), cfg["hidden_dim"], cfg["latent_dim"])


def test_resume_is_exact_for_a_score_function_guide(tmp_path, monkeypatch):
    """1 + 1 epochs equal 2 straight, bitwise, for a guide whose site is not reparameterised
    (Pyro's Trace_ELBO with its score-function term, from the first step to the last)."""
    from pgm import GUIDES

    monkeypatch.setitem(GUIDES._entries, "test-score-function", _score_function_guide)
    config = {**TINY, "guide": "test-score-function", "epochs": 2}
    model = train(config, tmp_path / "straight", progress=False).model
    assert not model.posterior.gaussian(torch.zeros(1, 1, 8, 8)).has_rsample  # score-function
    train({**config, "epochs": 1}, tmp_path / "split", progress=False)
    train(config, tmp_path / "split", resume=True, progress=False)
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "split" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert (tmp_path / "split" / "model.safetensors").read_bytes() == (
        tmp_path / "straight" / "model.safetensors"
    ).read_bytes()


def test_a_resume_rewrites_a_metrics_file_nested_too_deep_to_read(tmp_path):
    """A hand-made line of 5,000 nested brackets in metrics.jsonl crashed --resume with a
    RecursionError: the file is unreadable, so it is written afresh from the checkpoint."""
    run = tmp_path / "run"
    train({**TINY, "epochs": 1}, run, progress=False)
    path = run / "metrics.jsonl"
    with path.open("a") as f:
        f.write("[" * 5000 + "]" * 5000 + "\n")
    train({**TINY, "epochs": 2}, run, resume=True, progress=False)
    assert [json.loads(line)["epoch"] for line in path.read_text().splitlines()] == [1, 2]


def test_a_resumed_run_keeps_one_key_order_in_metrics(tmp_path):
    """A checkpoint keeps its records with sorted keys: a resume that trained on wrote the
    earlier lines sorted and the new ones as an epoch makes them, two orders in one file."""
    run = tmp_path / "run"
    train({**TINY, "epochs": 1}, run, progress=False)
    train({**TINY, "epochs": 2}, run, resume=True, progress=False)
    orders = {tuple(json.loads(line)) for line in (run / "metrics.jsonl").read_text().splitlines()}
    assert len(orders) == 1 and next(iter(orders))[:3] == ("epoch", "step", "train_loss")


def test_a_resume_rewrites_metrics_that_equal_the_checkpoints_only_as_numbers(tmp_path):
    """``"epoch": true`` equals 1 in Python, so a hand-edited metrics.jsonl was kept by a
    resume with nothing to train; the file is compared as text and made the checkpoint's."""
    run = tmp_path / "run"
    train({**TINY, "epochs": 1}, run, progress=False)
    path = run / "metrics.jsonl"
    before = path.read_text()
    path.write_text(before.replace('"epoch": 1,', '"epoch": true,'))
    assert path.read_text() != before
    train({**TINY, "epochs": 1}, run, resume=True, progress=False)
    assert path.read_text() == before
