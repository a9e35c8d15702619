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


def test_normalize_gradients_hands_the_optimiser_unit_norm_gradients(monkeypatch):
    """``normalize_gradients = true`` (the VampPrior code's AdamNormGrad): every parameter's
    gradient reaches the optimiser with L2 norm 1 (tolerance 1e-5); without it, the raw ones."""
    import torch

    import pgm
    from inference import Trainer
    from inference.config import resolve_config

    x = torch.randint(0, 17, (20, 1, 8, 8)).float()
    seen: dict[bool, list[float]] = {}
    for normalize in (True, False):
        cfg = resolve_config(
            {
                "model": "vae",
                "latent_dim": 2,
                "hidden_dim": 8,
                "batch_size": 20,
                "seed": 0,
                "device": "cpu",
                "normalize_gradients": normalize,
            },
            image_shape=[1, 8, 8],
            num_levels=17,
        )
        torch.manual_seed(0)
        trainer = Trainer(cfg, pgm.build(cfg), None)
        trainer.prepare(x, None)
        norms: list[float] = []
        step, params = trainer.optimizer.step, list(trainer.model.parameters())

        def record(*args, norms=norms, params=params, step=step):
            norms.extend(float(p.grad.norm()) for p in params if p.grad is not None)
            return step(*args)

        monkeypatch.setattr(trainer.optimizer, "step", record)
        trainer.train_step(x)
        seen[normalize] = norms
    assert seen[True] and all(abs(n - 1) < 1e-5 for n in seen[True]), seen[True]
    assert any(abs(n - 1) > 0.1 for n in seen[False])


def test_the_clamped_guide_keeps_its_scale_in_range_under_a_vampprior():
    """``guide = "clamped-diagonal-normal"``: however large its head's output, q's standard
    deviations stay in [exp(-3), exp(1)], and the VampPrior's components (the guide at the
    pseudo-inputs) with them; the plain guide's do not."""
    import math

    import torch

    import pgm

    cfg = {
        "model": "vae",
        "prior": "vamp",
        "num_components": 3,
        "latent_dim": 2,
        "hidden_dim": 8,
        "image_shape": [1, 8, 8],
        "num_levels": 2,
    }
    for guide, bounded in (("clamped-diagonal-normal", True), ("diagonal-normal", False)):
        torch.manual_seed(0)
        model = pgm.build({**cfg, "guide": guide})
        with torch.no_grad():
            model.posterior.scale.bias.fill_(50.0)
            wide = model.posterior.gaussian(torch.ones(4, 1, 8, 8)).stddev
            components = model.prior().scale
            model.posterior.scale.bias.fill_(-50.0)
            narrow = model.posterior.gaussian(torch.ones(4, 1, 8, 8)).stddev
        if bounded:
            assert torch.allclose(wide, torch.full_like(wide, math.exp(1.0)))
            assert torch.allclose(narrow, torch.full_like(narrow, math.exp(-3.0)))
            assert torch.allclose(components, torch.full_like(components, math.exp(1.0)))
        else:
            assert float(wide.min()) > 40 and float(narrow.max()) < 1e-3
    assert (
        "log-variance in [-6, 2]"
        in pgm.build({**cfg, "guide": "clamped-diagonal-normal"}).describe()
    )


def test_grad_clip_beside_normalize_gradients_is_warned_about(caplog):
    """Normalised gradients have total norm sqrt(number of tensors), and a clip scales them all
    alike, which Adam undoes: the config says so, once per process (a command resolves its
    config more than once); either key alone says nothing."""
    import logging

    from inference.training_config import TrainingConfig

    with caplog.at_level(logging.WARNING, logger="pgm"):
        TrainingConfig(grad_clip=1.0)
        TrainingConfig(normalize_gradients=True)
        assert not caplog.records
        TrainingConfig(grad_clip=1.0, normalize_gradients=True)
        TrainingConfig(grad_clip=2.0, normalize_gradients=True)  # once per process
    assert [r.getMessage()[:60] for r in caplog.records] == [
        "config: 'grad_clip' has almost no effect beside 'normalize_g"
    ]
