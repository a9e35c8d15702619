"""Where ``pgm train`` takes its config from: a TOML file, a JSON file (a run's own
``config.json``), or ``--from RUN`` (that run's config less its session keys, for a retrain or a
reseed); ``--device`` overrides the config's device. Training itself is replaced by a recorder:
these tests are about the config that reaches it."""

import json
from pathlib import Path

import pytest

import inference.run
from inference import FitResult
from inference.fingerprint import SESSION_KEYS
from pgm_cli.main import main


@pytest.fixture
def trained(tmp_path, monkeypatch):
    """The configs ``pgm train`` hands to training, in order."""
    seen = []

    def fake_train(cfg, out, **settings):
        seen.append(dict(cfg))
        return FitResult(None, cfg, Path(out), [{"epoch": 1, "train_loss": 2.0}], 1.5)

    monkeypatch.setattr(inference.run, "train", fake_train)
    return seen


def recorded_run(folder: Path) -> Path:
    """A run folder whose config.json holds model keys and session keys."""
    folder.mkdir()
    cfg = {"model": "vae", "epochs": 3, "seed": 0, "latent_dim": 2, "device": "cuda"}
    cfg["encoder_input"] = "unit"  # pgm records it; a record without it predates the key
    cfg.update({"data_dir": "/elsewhere", "logger": "tensorboard", "eval_particles": 7})
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def test_a_json_config_trains_like_toml(tmp_path, trained, capsys):
    run = recorded_run(tmp_path / "old")
    assert main(["train", str(run / "config.json"), "--out", str(tmp_path / "new")]) == 0
    assert trained[0] == json.loads((run / "config.json").read_text())
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'new'}: 1 epoch, train loss 2")


def test_from_a_run_drops_its_session_keys_and_takes_set(tmp_path, trained):
    run = recorded_run(tmp_path / "old")
    argv = ["train", "--from", str(run), "--set", "seed=1", "--out", str(tmp_path / "new")]
    assert main([*argv, "--device", "cpu"]) == 0
    assert trained[0] == {
        **{"model": "vae", "epochs": 3, "seed": 1, "latent_dim": 2, "device": "cpu"},
        "encoder_input": "unit",
    }
    assert main(argv) == 0
    assert not SESSION_KEYS & trained[1].keys()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["cfg.toml"], "--from: expected a run to train again as a new run (--out); found a "),
        # a bare name that is no file nor example: the conflict, not the list of examples
        (["nope"], "--from: expected a run to train again as a new run (--out); found a "),
        (["--resume"], "found --resume too"),
    ],
)
def test_from_refuses_a_second_source(tmp_path, trained, capsys, extra, message):
    run = recorded_run(tmp_path / "old")
    assert main(["train", "--from", str(run), "--out", str(tmp_path / "n"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not trained


def test_from_a_folder_without_a_config_is_refused(tmp_path, trained, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "--from", str(tmp_path / "empty"), "--out", str(tmp_path / "n")]) == 2
    err = capsys.readouterr().err
    assert "--from: expected a run folder written by `pgm train`" in err and not trained
    assert main(["train", str(tmp_path / "none.json"), "--out", str(tmp_path / "n")]) == 2
    assert "config: expected a JSON config file; found no such file" in capsys.readouterr().err


def test_a_key_an_older_pgm_recorded_is_dropped_silently_on_resume_and_from(
    tmp_path, trained, capsys
):
    """A run recorded ``activation`` for its gated-mlp network before pgm knew gated-mlp does
    not read it: ``--resume`` and ``--from`` take the record as it applies now, with no "does
    not apply" warning for a key the user never named; ``--set`` naming it still gets one."""
    run = recorded_run(tmp_path / "old")
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(
        json.dumps({**cfg, "network": "gated-mlp", "activation": "relu"})
    )
    assert main(["train", "--from", str(run), "--out", str(tmp_path / "new")]) == 0
    assert "activation" not in trained[0] and trained[0]["network"] == "gated-mlp"
    assert main(["train", "--out", str(run), "--resume"]) == 0
    assert "activation" not in trained[1] and trained[1]["network"] == "gated-mlp"
    assert "warning" not in capsys.readouterr().err
    assert main(["train", "--out", str(run), "--resume", "--set", 'activation="tanh"']) == 0
    assert trained[2]["activation"] == "tanh"  # the user's: resolving it warns (train's test)
