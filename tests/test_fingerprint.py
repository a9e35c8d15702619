"""Runs that know their config: every checkpoint and ``model.safetensors`` record the resolved
config and the data's identity; a resume (even after ``config.json`` was edited) or the suite's
reuse of a finished run refuses another config or other data in one line naming the keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_run import TINY_RUN

from evaluation.suite import run_suite
from inference import ConfigError, train
from inference.checkpoint import load_tensors
from inference.fingerprint import config_differences
from pgm_cli.main import main

TINY = {**TINY_RUN, "epochs": 2, "lr": 3e-3}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("fp") / "run"
    train(TINY, run, progress=False)
    return run


def _files(run: Path) -> dict:
    return {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


def _copy(finished: Path, tmp: Path) -> Path:
    import shutil

    return Path(shutil.copytree(finished, tmp / "run"))


def test_checkpoints_and_weights_record_config_and_data(finished):
    for path in [finished / "model.safetensors", *sorted((finished / "checkpoints").glob("*"))]:
        _, meta = load_tensors(path)
        assert meta["config"]["lr"] == 3e-3 and meta["config"]["epochs"] == 2
        assert meta["data"]["name"] == "digits" and meta["data"]["train"] == 50
        assert len(meta["data"]["sha256"]) == 64 and len(meta["fingerprint"]) == 16


def test_resume_refuses_an_edited_config_json(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**saved, "seed": 99, "lr": 0.5, "epochs": 3}))
    before = _files(run)
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    # the edit is named as config.json's against the weights, not as the config given's
    ckpt = run / "checkpoints" / "epoch-00002.safetensors"
    assert err == (
        "pgm train: error: --resume: expected config.json to be the config its weights were "
        f"trained with; found differences with {ckpt} in lr (run has 0.003, config.json 0.5); "
        f"seed (run has 1, config.json 99) (config.json was edited; restore it in {run})"
    ), err
    assert _files(run) == before


def test_resume_refuses_fewer_epochs_and_accepts_more(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    before = _files(run)
    assert main(["train", "--out", str(run), "--resume", "--no-progress", "--set", "epochs=1"]) == 2
    err = capsys.readouterr().err
    assert "epochs (run has 2, given 1; it may only grow)" in err, err
    assert _files(run) == before
    assert main(["train", "--out", str(run), "--resume", "--no-progress", "--set", "epochs=3"]) == 0
    # config.json follows: a later plain --resume continues the 3-epoch run
    assert json.loads((run / "config.json").read_text())["epochs"] == 3
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0


def test_resume_lets_session_keys_change_and_ignores_unread_recorded_keys(finished, tmp_path):
    """A resume on another machine may change how the session runs (device, checkpoints kept,
    logger); a config.json written by pgm 0.1, which recorded model keys the model never read
    (``num_layers`` for a VAE) and had no ``logger``, resumes too."""
    run = _copy(finished, tmp_path)
    saved = json.loads((run / "config.json").read_text())
    old = {**saved, "num_layers": 5, "hidden_channels": 32, "keep_checkpoints": 3}
    del old["logger"]
    (run / "config.json").write_text(json.dumps(old))
    args = ["train", "--out", str(run), "--resume", "--no-progress"]
    assert main([*args, "--set", "epochs=3", "--set", "keep_checkpoints=2"]) == 0
    assert json.loads((run / "config.json").read_text())["keep_checkpoints"] == 2
    assert "num_layers" not in json.loads((run / "config.json").read_text())
    # what training reads still may not change
    assert config_differences({**old, "hidden_dim": 9}, saved) == [
        "hidden_dim (run has 9, given 8)"
    ]


def test_resume_refuses_other_data(finished, tmp_path):
    """The same config on images that differ in one pixel: the data's hash differs."""
    from pgm.data import ImageDataset, load_dataset

    run = _copy(finished, tmp_path)
    before = _files(run)
    train_ds = load_dataset("digits", "train").subset(50)
    images = train_ds.images.clone()
    images[7, 0, 3, 3] = (images[7, 0, 3, 3] + 1) % 17
    changed = ImageDataset("digits", "train", images, 17, train_ds.labels)
    with pytest.raises(
        ConfigError,
        match=r"found differences with epoch-00002.safetensors in data sha256 "
        r"\(run has '[0-9a-f]{64}', given '[0-9a-f]{64}'\)$",
    ):
        train(
            {**TINY, "epochs": 3},
            run,
            resume=True,
            progress=False,
            data=(changed, load_dataset("digits", "valid")),
        )
    assert _files(run) == before


def test_differences_cover_every_key_generically():
    got = config_differences(
        {"a": 1, "epochs": 2, "new_key": "x"}, {"a": 1, "epochs": 5, "other": 3}
    )
    assert got == [
        "new_key (run has 'x', given has no such key)",
        "other (run has no such key, given 3)",
    ]
    # a key both have, one as None, shows the None
    got = config_differences({"hidden_dims": None}, {"hidden_dims": [3]})
    assert got == ["hidden_dims (run has None, given [3])"]


def test_suite_refuses_to_reuse_a_run_of_another_config(tmp_path):
    """A finished suite run is kept only when it is what the suite asks for now: other data
    (`--data digits-binary` into a digits folder) or fewer epochs (a smaller `--epochs-scale`)
    are refused by name, and the run is left alone."""
    from evaluation.suite import suite_models

    out = tmp_path / "suite"
    quiet = {
        "models": ["autoencoder"],
        "num_particles": 2,
        "device": "cpu",
        "progress": False,
        "log": lambda *_: None,
    }
    run_dir = out / "runs" / "autoencoder"
    cfg = {
        **suite_models()["autoencoder"],
        "data": "digits",
        "device": "cpu",
        "epochs": 3,
        "num_train": 64,
    }
    train(cfg, run_dir, progress=False)
    before = _files(run_dir)
    with pytest.raises(
        ConfigError,
        match=r"^--out: expected the run's own config and data .*"
        r"data \(run has 'digits', given 'digits-binary'\)",
    ):
        run_suite(out, data="digits-binary", **quiet)
    with pytest.raises(ConfigError, match=r"epochs \(run has 3, given 1; it may only grow\)"):
        run_suite(out, epochs_scale=1 / 40, **quiet)
    assert _files(run_dir) == before


def test_loading_a_run_refuses_a_config_json_edited_after_training(finished, tmp_path):
    # same shapes, another model: the weights would be scored under an activation never trained
    from inference import load_run

    run = _copy(finished, tmp_path)
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**saved, "activation": "tanh"}))
    with pytest.raises(ConfigError, match=r"activation \(run has 'relu', config.json 'tanh'\)"):
        load_run(run)
    # keys a session may change (and epochs grown by a resume in progress) still load
    (run / "config.json").write_text(json.dumps({**saved, "eval_particles": 3, "epochs": 5}))
    load_run(run)
    # and so do keys the model never reads, which pgm 0.1 recorded (num_layers for a VAE)
    (run / "config.json").write_text(json.dumps({**saved, "num_layers": 5}))
    load_run(run)


def test_plugins_are_compared_by_module_and_content_not_by_path():
    """A run resumed on another machine finds its plug-in file elsewhere: the same module with
    the same sha256 is the same code; another sha256 is another model."""
    record = {"plugin": "/a/plug.py", "module": "plug", "file": "/a/plug.py", "sha256": "1" * 64}
    moved = {**record, "plugin": "/b/plug.py", "file": "/b/plug.py"}
    assert config_differences({"plugins": [record]}, {"plugins": [moved]}) == []
    edited = {**moved, "sha256": "2" * 64}
    (diff,) = config_differences({"plugins": [record]}, {"plugins": [edited]})
    assert diff.startswith("plugins (run has [{")


def test_differences_say_num_train_zero_means_every_image():
    base = {"model": "vae", "data": "digits", "epochs": 3}
    found = config_differences({**base, "num_train": 200}, {**base, "num_train": 0}, "recipe")
    assert found == ["num_train (run has 200, recipe 0 (all))"]


def test_another_model_is_one_difference_not_every_key_it_reads():
    """An edited ``model`` is named alone with the keys both models share that differ; the keys
    only one of the two models reads (a VAE's latent_dim, a PixelCNN's num_layers) follow from
    it and are not listed as "run has None"."""
    vae = {"model": "vae", "data": "digits", "latent_dim": 16, "hidden_dim": 256, "lr": 1e-3}
    pixelcnn = {"model": "pixelcnn", "data": "digits", "num_layers": 5, "lr": 1e-3}
    assert config_differences(vae, pixelcnn, "config.json") == [
        "model (run has 'vae', config.json 'pixelcnn')"
    ]
    assert config_differences(vae, {**pixelcnn, "lr": 2e-3}, "config.json") == [
        "lr (run has 0.001, config.json 0.002)",
        "model (run has 'vae', config.json 'pixelcnn')",
    ]
    # the same model: a key dropped from one side is still a difference
    dropped = {k: v for k, v in vae.items() if k != "latent_dim"}
    assert "latent_dim" in " ".join(config_differences(vae, dropped))


def _tamper(run: Path, change) -> None:
    """``change`` applied to config.json and to the config every weights file records, as a
    folder handed over whole might be."""
    from inference.checkpoint import save_tensors

    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(change(saved)))
    for path in [run / "model.safetensors", *sorted((run / "checkpoints").glob("*"))]:
        state, meta = load_tensors(path)
        save_tensors(path, state, {**meta, "config": change(meta["config"])})


@pytest.mark.parametrize("command", ["evaluate", "sample"])
def test_a_folder_setting_a_model_too_large_to_build_is_refused_before_building(
    finished, tmp_path, capsys, command
):
    """A run folder whose config and weights both say hidden_dim = 10^12 crashed evaluate and
    sample with the allocator's traceback (256 TB asked); training refused it in one line."""
    run = _copy(finished, tmp_path)
    _tamper(run, lambda c: {**c, "hidden_dim": 10**12})
    before = _files(run)
    argv = [command, str(run)] + (["-k", "2", "--no-progress"] if command == "evaluate" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "expected a request that fits in memory" in err, err
    assert "hidden_dim = 1,000,000,000,000" in err
    assert _files(run) == before


def test_a_folder_naming_no_model_is_refused_not_a_key_error(finished, tmp_path, capsys):
    """pgm records ``model`` always: a config.json without it (and weights without it) crashed
    evaluate with KeyError: 'model'; one edited alone is named against the weights."""
    run = _copy(finished, tmp_path)
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({k: v for k, v in saved.items() if k != "model"}))
    assert main(["evaluate", str(run), "-k", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"pgm evaluate: error: run: expected {run / 'config.json'} to name its model (as pgm "
        "records it); found none"
    )
    assert config_differences({"model": "vae", "a": 1}, {"a": 1}, "config.json") == [
        "model (run has 'vae', config.json has no such key)"
    ]
