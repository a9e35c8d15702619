"""Training options: early stopping (``patience``), the optional TensorBoard logger, and a run
folder that keeps only what resume needs (``keep_checkpoints = 1``) and the final weights."""

from __future__ import annotations

import json

import pytest

from inference import train

TINY = {
    "data": "digits",
    "model": "vae",
    "num_train": 64,
    "batch_size": 64,
    "hidden_dim": 16,
    "latent_dim": 2,
    "eval_particles": 2,
    "device": "cpu",
    "seed": 0,
}


def test_patience_stops_when_validation_stops_improving(tmp_path):
    # lr = 1e-30 leaves every weight as it is (float32), and validation uses fixed noise: the
    # validation loss of epoch 1 is never beaten, so patience 2 stops after epoch 3
    result = train(
        {**TINY, "epochs": 50, "lr": 1e-30, "early_stopping_patience": 2},
        tmp_path / "run",
        progress=False,
    )
    epochs = [m["epoch"] for m in result.metrics]
    assert epochs == [1, 2, 3]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    # resuming a stopped run trains nothing more
    again = train(
        {**TINY, "epochs": 50, "lr": 1e-30, "early_stopping_patience": 2},
        tmp_path / "run",
        resume=True,
        progress=False,
    )
    assert [m["epoch"] for m in again.metrics] == [1, 2, 3]


def test_run_folder_keeps_one_checkpoint_and_the_weights(tmp_path):
    train({**TINY, "epochs": 4, "lr": 1e-2}, tmp_path / "run", progress=False)
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    # the last checkpoint (resume), and the best epoch's only if it is not the last
    assert 1 <= len(kept) <= 2 and kept[-1] == "epoch-00004.safetensors", kept
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_tensorboard_logger_writes_the_epoch_scalars(tmp_path):
    pytest.importorskip(
        "tensorboard", reason="the optional extra pgm[tensorboard] is not installed"
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(
        {**TINY, "epochs": 2, "lr": 1e-2, "logger": "tensorboard"}, tmp_path / "run", progress=False
    )
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train_loss", "valid_loss", "best_valid_loss"} <= tags
    metrics = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    logged = events.Scalars("valid_loss")
    assert [e.step for e in logged] == [1, 2]
    assert [e.value for e in logged] == pytest.approx([m["valid_loss"] for m in metrics], rel=1e-6)


def test_unknown_logger_is_refused(tmp_path):
    with pytest.raises(ValueError, match="logger: expected one of"):
        train({**TINY, "epochs": 1, "logger": "wandb"}, tmp_path / "run", progress=False)
