"""The trainer as a step plus callbacks: one SVI step is Pyro's objective plus Adam; a caller's
callback sees the hooks in order and can end a run at an epoch boundary (with a checkpoint a
resume continues from); the typed training config is what the trainer reads; progress goes to
a log file as one line per epoch."""

from __future__ import annotations

import io
import json

import pytest
import torch

import pgm
from inference import Trainer, TrainingConfig, resolve_config, train
from inference.callback import Callback
from inference.progress import QUIET_INTERVAL, is_terminal, progress_bar

TINY = {
    "data": "digits",
    "model": "vae",
    "latent_dim": 2,
    "hidden_dim": 8,
    "num_train": 40,
    "batch_size": 20,
    "epochs": 3,
    "lr": 3e-3,
    "seed": 2,
    "device": "cpu",
}
TIMING = {"seconds", "images_per_second"}


def _trainer(**changes) -> tuple[Trainer, torch.Tensor]:
    cfg = resolve_config({**TINY, **changes}, image_shape=[1, 8, 8], num_levels=17)
    torch.manual_seed(0)
    x = torch.randint(0, 17, (40, 1, 8, 8)).float()
    return Trainer(cfg, pgm.build(cfg)), x


def test_train_step_is_the_objective_then_one_adam_step():
    trainer, x = _trainer()
    trainer.prepare(x)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    torch.manual_seed(5)
    with torch.no_grad():
        expected = float(trainer.objective(x[:20], beta=0.5))
    torch.manual_seed(5)
    found = trainer.train_step(x[:20], beta=0.5)
    assert found == expected and trainer.step == 1
    changed = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed  # Adam moved the weights
    assert all(p.grad is not None for p in trainer.model.parameters() if p.requires_grad)


def test_grad_clip_bounds_the_gradient_norm_of_a_step(monkeypatch):
    trainer, x = _trainer(grad_clip=1e-3)
    trainer.prepare(x)
    norms = []
    step = trainer.optimizer.step

    def record_then_step(*args, **kwargs):
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        return step(*args, **kwargs)

    monkeypatch.setattr(trainer.optimizer, "step", record_then_step)
    trainer.train_step(x[:20])
    assert norms == [pytest.approx(1e-3, rel=1e-4)]  # a VAE's raw gradient is far larger


def test_the_trainer_reads_the_typed_training_config():
    cfg = resolve_config({**TINY, "adam_eps": 1e-5}, image_shape=[1, 8, 8], num_levels=17)
    typed = TrainingConfig.from_config(cfg)
    by_type = Trainer(typed, pgm.build(cfg))
    by_dict = Trainer(cfg, pgm.build(cfg))
    assert by_type.training == by_dict.training == typed
    assert by_dict.optimizer.param_groups[0]["eps"] == 1e-5
    # a default not in the dict comes from the dataclass, its one home
    sparse = Trainer({"lr": 0.5, "device": "cpu"}, pgm.build(cfg))
    assert sparse.training.batch_size == TrainingConfig().batch_size
    assert sparse.optimizer.param_groups[0]["betas"] == tuple(TrainingConfig().adam_betas)


class Recorder(Callback):
    """Records the hooks called; stops the run after epoch ``stop_after``."""

    def __init__(self, stop_after: int | None = None):
        self.calls: list[str] = []
        self.stop_after = stop_after

    def on_train_start(self, trainer):
        self.calls.append(f"start@{trainer.epoch}")

    def on_epoch_start(self, trainer):
        self.calls.append("epoch")

    def on_step_end(self, trainer, loss):
        assert isinstance(loss, float)
        self.calls.append("step")

    def on_epoch_end(self, trainer, record):
        self.calls.append(f"end{record['epoch']}")
        if trainer.epoch == self.stop_after:
            trainer.stop_reason = "recorder"

    def on_checkpoint(self, trainer):
        self.calls.append(f"ckpt{trainer.epoch}")

    def on_train_end(self, trainer):
        self.calls.append("train_end")

    def on_close(self, trainer):
        self.calls.append("close")


def _metrics(run) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_a_callback_sees_every_hook_and_can_end_the_run_exactly(tmp_path):
    whole = train(TINY, tmp_path / "whole", progress=False)
    recorder = Recorder(stop_after=2)
    cut = train(TINY, tmp_path / "cut", progress=False, callbacks=[recorder])
    assert cut.stopped == "recorder" and [m["epoch"] for m in cut.metrics] == [1, 2]
    assert recorder.calls == [
        "start@0",
        *("epoch", "step", "step", "end1", "ckpt1"),
        *("epoch", "step", "step", "end2", "ckpt2"),
        "train_end",
        "close",
    ]
    # the stop came before the epoch's checkpoint: resume carries on to the same end
    again = train(TINY, tmp_path / "cut", resume=True, progress=False)
    assert again.stopped is None and _metrics(tmp_path / "cut") == _metrics(tmp_path / "whole")
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k]), k


def test_close_runs_after_an_error_too():
    trainer, x = _trainer()
    recorder = Recorder()

    class Failing(Callback):
        def on_epoch_end(self, trainer, record):
            raise RuntimeError("callback failed")

    trainer.extra_callbacks = [Failing(), recorder]
    with pytest.raises(RuntimeError, match="callback failed"):
        trainer.fit(x, progress=False)
    assert recorder.calls[-1] == "close" and "train_end" not in recorder.calls


def test_progress_in_a_log_file_is_one_line_per_epoch(tmp_path, capsys):
    train({**TINY, "epochs": 2}, tmp_path / "run", progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err  # no bar redraws in a file
    lines = [line for line in err.splitlines() if line.startswith("train vae:")]
    heads = [line.split(",")[0] for line in lines]
    assert heads == ["train vae: epoch 1/2", "train vae: epoch 2/2"]
    assert all("train_loss" in line and "valid_loss" in line for line in lines)


def test_progress_bar_is_quiet_off_a_terminal():
    log = io.StringIO()
    assert not is_terminal(log)
    bar = progress_bar(total=1000, desc="work", file=log)
    assert bar.mininterval == QUIET_INTERVAL == 30.0
    for _ in range(1000):
        bar.update(1)
    bar.close()
    assert log.getvalue().count("\r") <= 3  # a few redraws, not a thousand
    off = progress_bar(range(3), enabled=False, file=log)
    assert list(off) == [0, 1, 2]
