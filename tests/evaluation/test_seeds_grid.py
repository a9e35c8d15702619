"""Issue 19: the suite's models x seeds grid trained through submitit's local executor (the same
code path as its Slurm executor), and the grid's one-line refusals."""

from __future__ import annotations

import json
import shutil

import pytest

from evaluation.suite_grid import TrainTask, check_grid_options, run_dir_name, train_grid
from pgm.errors import PgmError
from tests.tiny_run import TINY_RUN


@pytest.mark.slow  # two subprocesses importing torch and pyro: about a minute on 2 busy cores
def test_local_executor_trains_two_seeds_concurrently(tmp_path):
    tasks = [
        TrainTask(f"tiny-seed{s}", {**TINY_RUN, "seed": s}, tmp_path / f"tiny-seed{s}", False, None)
        for s in (0, 1)
    ]
    train_grid(tasks, jobs=2, executor="local", folder=tmp_path / "jobs", log=lambda *_: None)
    for s, t in enumerate(tasks):
        assert (t.run_dir / "model.safetensors").is_file()
        assert json.loads((t.run_dir / "config.json").read_text())["seed"] == s
    # two jobs, one per run: each wrote its own submitit log folder entry
    assert len(list((tmp_path / "jobs").glob("*_result.pkl"))) == 2


def test_grid_refusals():
    assert run_dir_name("vae", 0) == "vae" and run_dir_name("vae", 2) == "vae-seed2"
    with pytest.raises(PgmError, match="--seeds: expected an integer >= 1; found 0"):
        check_grid_options(0, 1, "local")
    with pytest.raises(PgmError, match="--seeds: expected an integer <= 1,000; found 1,000,000,0"):
        check_grid_options(10**9, 1, "local")  # was: a grid of 10^9 configs built until killed
    with pytest.raises(PgmError, match="--jobs: expected an integer >= 1"):
        check_grid_options(1, -2, "local")
    if shutil.which("sbatch") is None:
        with pytest.raises(PgmError, match="--executor slurm: expected a Slurm cluster"):
            check_grid_options(1, 2, "slurm")
