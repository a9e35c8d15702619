"""Each layer owns its config keys (model and data: pgm; training: inference), the composition
refuses keys no layer declared, and `pgm train` and the torchrun entry point share one path."""

import ast
import json
from pathlib import Path

import pytest
from tiny_run import TINY_RUN

import inference.distributed
import inference.run
import pgm
import pgm_cli.main
import pgm_cli.torchrun
from inference import FitResult, TrainingConfig, resolve_config
from inference.fingerprint import SESSION_KEYS
from inference.training_config import TRAINING_KEYS
from pgm.config_keys import known_keys
from pgm.data import DataConfig
from pgm.data.from_config import DATA_KEYS
from pgm.model_config import MODEL_DEFAULTS, PGM_KEYS, ModelConfig

ROOT = Path(__file__).resolve().parents[1]
DIGITS = {"image_shape": [1, 8, 8], "num_levels": 17}


def test_layers_own_disjoint_keys_and_pgm_names_no_training_key():
    layers = [set(MODEL_DEFAULTS) | PGM_KEYS, set(DATA_KEYS), set(TRAINING_KEYS)]
    assert sum(map(len, layers)) == len(set().union(*layers))
    assert set().union(*layers) == known_keys({})
    # adding a training option touches inference only: pgm never spells a training key
    spelled = {
        (str(path.relative_to(ROOT)), node.value)
        for path in (ROOT / "pgm").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in TRAINING_KEYS
    }
    assert not spelled


def test_resolved_config_is_the_union_of_the_layers_each_checked_by_its_owner():
    cfg = resolve_config({**TINY_RUN, "num_workers": 2}, **DIGITS)
    assert {k: cfg[k] for k in DATA_KEYS} == DataConfig.from_config(cfg).as_dict()
    assert TrainingConfig.from_config(cfg).as_dict() == {
        k: cfg[k] for k in TRAINING_KEYS if k != "normalize_gradients"
    }
    model_part = {k: v for k, v in cfg.items() if k not in DATA_KEYS + TRAINING_KEYS}
    assert set(model_part) <= set(MODEL_DEFAULTS) | PGM_KEYS
    resolved = pgm.resolve_model_config(model_part)
    assert {k: resolved[k] for k in model_part if k != "image_shape"} == {
        k: v for k, v in model_part.items() if k != "image_shape"
    }
    # an optional key is recorded only when given (runs recorded before it exist without it)
    assert "num_workers" not in resolve_config(TINY_RUN, **DIGITS)
    assert "normalize_gradients" not in cfg
    cfg_plain = resolve_config(TINY_RUN, **DIGITS)
    given = resolve_config({**TINY_RUN, "normalize_gradients": True}, **DIGITS)
    assert given["normalize_gradients"] is True
    # false is what a run without the key trained with: the same config, compared or grouped
    assert resolve_config({**TINY_RUN, "normalize_gradients": False}, **DIGITS) == cfg_plain
    with pytest.raises(ValueError, match="normalize_gradients: expected true or false; found 1"):
        TrainingConfig(normalize_gradients=1)
    with pytest.raises(ValueError, match="epochs: expected an integer >= 1; found 0"):
        TrainingConfig(epochs=0)
    with pytest.raises(ValueError, match="data_dir: expected a path string; found 3"):
        DataConfig(data_dir=3)
    with pytest.raises(ValueError, match="latent_dim: expected an integer >= 1; found 0"):
        ModelConfig.from_config({**DIGITS, "latent_dim": 0})
    model = ModelConfig.from_config({**DIGITS, "epochs": 3})  # another layer's key: not read
    assert (model.likelihood, model.latent_dim_top, model.own) == ("categorical", 16, {})


def test_build_takes_a_runs_whole_config_and_refuses_undeclared_keys():
    cfg = resolve_config(TINY_RUN, **DIGITS)  # what config.json records
    assert pgm.build(cfg).config["latent_dim"] == 2
    for build in (pgm.build, lambda c: resolve_config(c, **DIGITS)):
        with pytest.raises(ValueError) as err:
            build({**cfg, "epoch": 3, "latnet_dim": 3})
        message = str(err.value)
        assert "found unknown key(s) 'epoch' (did you mean 'epochs'?)" in message
        assert "'latnet_dim' (did you mean 'latent_dim'?)" in message
        assert "expected keys among " in message and "num_train" in message  # every layer's


def test_the_keys_a_resume_may_change_are_marked_by_their_layers():
    assert SESSION_KEYS == {
        "device",
        "data_dir",
        "download",
        "num_workers",
        "checkpoint_every",
        "keep_checkpoints",
        "logger",
        "eval_particles",
        "flush_denormal",
    }


def test_pgm_train_and_torchrun_print_the_same_summary(tmp_path, monkeypatch, capsys):
    config = tmp_path / "run.toml"
    config.write_text('model = "vae"\nepochs = 2\n')
    seen = []

    def fake_train(cfg, out, **settings):
        seen.append((cfg, settings))
        metrics = [{"epoch": 2, "train_loss": 1.5}]
        return FitResult(None, cfg, Path(out), metrics, best_valid_loss=1.25)

    monkeypatch.setattr(inference.run, "train", fake_train)
    monkeypatch.setattr(inference.distributed, "train_distributed", fake_train)
    args = [str(config), "--out", str(tmp_path / "run"), "--set", "lr=0.01", "--no-progress"]
    assert pgm_cli.main.main(["train", *args]) == 0
    from_cli = capsys.readouterr().out
    assert pgm_cli.torchrun.main(args) == 0
    from_torchrun = capsys.readouterr().out
    assert from_cli == from_torchrun
    assert from_cli == f"{tmp_path / 'run'}: 2 epochs, train loss 1.5, best validation loss 1.25\n"
    assert pgm_cli.main.main(["train", *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "run": str(tmp_path / "run"),
        "epochs": 2,
        "train_loss": 1.5,
        "best_valid_loss": 1.25,
    }
    assert seen[0] == seen[1]
    assert seen[0][0] == {"model": "vae", "epochs": 2, "lr": 0.01}


def test_torchrun_takes_plugin_like_pgm_train(tmp_path, monkeypatch):
    config = tmp_path / "run.toml"
    config.write_text('model = "vae"\nepochs = 2\n')
    seen = []

    def fake_train(cfg, out, **settings):
        seen.append(cfg)
        return FitResult(None, cfg, Path(out), [{"epoch": 2, "train_loss": 1.5}], 1.25)

    monkeypatch.setattr(inference.run, "train", fake_train)
    monkeypatch.setattr(inference.distributed, "train_distributed", fake_train)
    plugin = tmp_path / "empty_plugin.py"
    plugin.write_text('"""A plug-in that registers nothing."""\n')
    args = [str(config), "--out", str(tmp_path / "run"), "--plugin", str(plugin), "--no-progress"]
    assert pgm_cli.main.main(["train", *args]) == 0
    assert pgm_cli.torchrun.main(args) == 0
    assert seen[0] == seen[1] and seen[1]["plugins"] == [str(plugin)]


def test_pgm_train_on_a_paper_recipe_points_to_pgm_reproduce(capsys):
    from pathlib import Path

    from pgm_cli.main import main

    recipe = Path(__file__).resolve().parents[1] / "pgm" / "configs" / "papers" / "pixelcnn.toml"
    assert main(["train", str(recipe), "--out", "/nonexistent/never-written"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "a paper recipe" in err and "pgm reproduce pixelcnn --out DIR" in err, err


def test_pgm_alone_refuses_a_run_config_saying_where_training_keys_live():
    """A script importing pgm only cannot tell a training key from a typo: it names the keys,
    guesses only near misses (no 'num_particles' -> 'num_levels') and points to inference."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import pgm\n"
        "try:\n"
        "    pgm.build({'model': 'vae', 'image_shape': [1, 8, 8], 'num_levels': 17,\n"
        "               'num_particles': 2, 'latnet_dim': 3})\n"
        "except pgm.errors.PgmError as err:\n"
        "    print(err)\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    ).stdout.strip()
    assert out.startswith("config: expected the keys of pgm's layers (model, data); found "), out
    assert "'latnet_dim' (did you mean 'latent_dim'?)" in out and "'num_particles'," in out
    assert "did you mean 'num_levels'" not in out and "`import inference`" in out


@pytest.mark.parametrize(
    "bad",
    [{"epoch": 3}, {"lr_decay": 2.0}, {"data_dir": 3}, {"latent_dim": 0}],
    ids=["unknown key", "training", "data", "model"],
)
def test_every_layer_refusal_is_an_inference_config_error(bad):
    """Whichever layer refuses a setting, `except inference.ConfigError` catches it."""
    from inference import ConfigError, resolve_config

    with pytest.raises(ConfigError):
        resolve_config({"model": "vae", **bad}, image_shape=[1, 8, 8], num_levels=17)


def test_a_run_is_resolved_once_into_frozen_layers_and_built_from_its_model_layer():
    import dataclasses

    from inference.config import ResolvedConfig, resolve_run

    resolved = resolve_run(TINY_RUN, **DIGITS)
    assert isinstance(resolved, ResolvedConfig)
    assert resolved.as_dict() == resolve_config(TINY_RUN, **DIGITS)
    assert resolved.training.epochs == 1 and resolved.data.data == "digits"
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.training = None
    with pytest.raises(TypeError):
        resolved.model["latent_dim"] = 3  # read-only
    model = pgm.build(resolved.model)  # not resolved a second time
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in pgm.build(resolved.as_dict()).parameters()
    )
