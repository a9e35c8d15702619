"""``pgm suite --budget``: fixed epochs from the suite table, or early stopping to convergence."""

from __future__ import annotations

import pytest

import evaluation.compare
import evaluation.suite as suite
from pgm_cli.main import main


@pytest.fixture
def trained(monkeypatch):
    """Record each config ``run_suite`` trains with, instead of training; no comparison."""
    configs: dict[str, dict] = {}

    def fake_train(cfg, run_dir, **_):
        configs[run_dir.name] = cfg

    monkeypatch.setattr(suite, "train", fake_train)
    monkeypatch.setattr(evaluation.compare, "compare_runs", lambda runs, out, **_: {"models": []})
    return configs


def test_converge_budget_trains_with_early_stopping(tmp_path, trained):
    suite.run_suite(
        tmp_path, models=["vae", "pixelcnn"], budget="converge", progress=False, log=lambda *_: None
    )
    for cfg in trained.values():
        assert (
            cfg["epochs"] == suite.CONVERGE_MAX_EPOCHS
            and cfg["early_stopping_patience"] == suite.CONVERGE_PATIENCE
        )


def test_fixed_budget_keeps_the_table_epochs(tmp_path, trained):
    suite.run_suite(tmp_path, models=["vae", "pixelcnn"], progress=False, log=lambda *_: None)
    table = suite.suite_models()
    assert {n: c["epochs"] for n, c in trained.items()} == {
        n: table[n]["epochs"] for n in ("vae", "pixelcnn")
    }
    assert all("early_stopping_patience" not in c for c in trained.values())


def test_unknown_budget_is_refused(tmp_path, capsys):
    with pytest.raises(
        ValueError, match="--budget: expected one of fixed, converge; found 'forever'"
    ):
        suite.run_suite(tmp_path, budget="forever")
    assert main(["suite", "--out", str(tmp_path), "--budget", "forever"]) == 2
    assert "--budget" in capsys.readouterr().err


def test_with_seeds_every_run_is_named_by_its_seed_in_the_report(tmp_path, monkeypatch):
    """``--seeds 3`` named seed 0's run "vae" (its folder, from before seeds) beside the model
    "vae" over its three seeds: with seeds each run is ``MODEL-seedS`` in the report, its folder
    unchanged; with one seed the folder's name stands."""
    monkeypatch.setattr(suite, "train", lambda *_, **__: None)
    asked = {}

    def compare(runs, out, names=None, **_):
        asked["runs"], asked["names"] = [r.name for r in runs], names
        return {"models": []}

    monkeypatch.setattr(evaluation.compare, "compare_runs", compare)
    suite.run_suite(tmp_path, models=["vae"], seeds=3, progress=False, log=lambda *_: None)
    assert asked["runs"] == ["vae", "vae-seed1", "vae-seed2"]
    assert asked["names"] == ["vae-seed0", "vae-seed1", "vae-seed2"]
    suite.run_suite(tmp_path / "one", models=["vae"], progress=False, log=lambda *_: None)
    assert asked["names"] == [None]


def test_an_added_run_named_like_a_seed_of_the_suite_is_renamed_not_refused():
    """``pgm suite --seeds 2 --add old/vae-seed0`` trained both seeds, then was refused
    ("--label: ... found 'vae-seed0' for two runs", a flag not given): the added run is
    ``vae-seed0#2``. Without seeds the folders' names stand (made unique by the comparison)."""
    from pathlib import Path

    names = ["vae-seed0", "vae-seed1"]
    added = [Path("old/vae-seed0"), Path("x/vae-seed0"), Path("y/other")]
    assert suite._added_names(added, names) == ["vae-seed0#2", "vae-seed0#3", "other"]
    # named like the suite's model over its seeds: the added run, not the model, is renamed
    assert suite._added_names([Path("old/vae")], names) == ["vae#2"]
    assert suite._added_names(added, [None, None]) == [None, None, None]
