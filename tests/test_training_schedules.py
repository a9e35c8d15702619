"""Training features do what they say: learning-rate schedules give their exact sequences, KL
warm-up its exact betas, early stopping stops at the right epoch with the best weights, Adam's
settings reach the optimiser, and a run with all of them resumes exactly after a session limit
(max_epochs or a time budget) cut it short."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

import pgm
from inference import ConfigError, Trainer, resolve_config, train
from inference.early_stopping import should_stop
from inference.kl_warmup import kl_weight
from inference.schedules import iwae_stage, learning_rate

TINY = {
    "data": "digits",
    "model": "vae",
    "latent_dim": 2,
    "hidden_dim": 16,
    "num_train": 100,
    "batch_size": 50,
    "lr": 3e-3,
    "seed": 3,
    "device": "cpu",
}
TIMING = {"seconds", "images_per_second"}


def test_iwae_schedule_is_the_papers():
    """Burda et al. (2016): 3**i epochs at 1e-3 * 10**(-i/7), i = 0..7, 3280 epochs in all."""
    cfg = {"lr": 1e-3, "lr_schedule": "iwae"}
    lrs = [learning_rate(cfg, e) for e in range(3280)]
    expected = [1e-3 * 10 ** (-i / 7) for i in range(8) for _ in range(3**i)]
    assert len(expected) == 3280
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert [iwae_stage(e) for e in (0, 1, 3, 4, 12, 13, 3279, 3280, 10_000)] == [
        0,
        1,
        1,
        2,
        2,
        3,
        7,
        7,
        7,
    ]


def test_step_and_exponential_schedules():
    step = {"lr": 1.0, "lr_schedule": "step", "lr_decay": 0.5, "lr_step_epochs": 3}
    assert [learning_rate(step, e) for e in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    exp = {"lr": 2.0, "lr_schedule": "exponential", "lr_decay": 0.9}
    assert [learning_rate(exp, e) for e in range(4)] == pytest.approx(
        [2.0, 1.8, 1.62, 1.458], rel=1e-12
    )
    assert learning_rate({"lr": 0.1}, 50) == 0.1


def test_kl_warmup_is_linear_over_epochs():
    """Tomczak & Welling (2018): beta = epoch / 100 for the first 100 epochs (counted from 1)."""
    assert [kl_weight(e, 100) for e in range(102)] == [min(1.0, (e + 1) / 100) for e in range(102)]
    assert kl_weight(0, 100) == 0.01 and kl_weight(99, 100) == 1.0 and kl_weight(0, 0) == 1.0


def test_should_stop_counts_epochs_since_the_best():
    assert not should_stop(10, 8, 3) and should_stop(11, 8, 3)
    assert not should_stop(100, 1, 0)  # patience 0: off


def test_bad_training_settings_are_refused():
    for key, value, match in [
        ("lr_schedule", "cosine", "lr_schedule: expected one of"),
        ("lr_decay", 1.5, "lr_decay: expected a factor"),
        ("adam_betas", [0.9], "adam_betas: expected"),
        ("adam_eps", 0, "adam_eps: expected a number > 0"),
        ("early_stopping_patience", -1, "early_stopping_patience: expected an integer >= 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            resolve_config({**TINY, key: value}, image_shape=[1, 8, 8], num_levels=17)


class CraftedValidation(Trainer):
    """Validation losses from a fixed sequence; the weights at each validation are recorded."""

    sequence = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 1.0]
    seen: list[dict[str, torch.Tensor]] = []

    def valid_loss(self, x, batch_size=1024):
        if not self.model.training:  # the probe before training, if any
            return math.inf
        CraftedValidation.seen.append({k: v.clone() for k, v in self.model.state_dict().items()})
        return self.sequence[len(self.metrics)]


def test_early_stopping_stops_at_the_right_epoch_with_the_best_weights():
    """Best at epoch 3 (loss 3.0); with a look-ahead of 3, epochs 4, 5, 6 do not improve, so
    training stops after epoch 6 (epoch 7's 2.0 is never reached) with epoch 3's weights."""
    CraftedValidation.seen = []
    result = train(
        {**TINY, "epochs": 8, "early_stopping_patience": 3},
        trainer_class=CraftedValidation,
        progress=False,
    )
    assert [m["epoch"] for m in result.metrics] == [1, 2, 3, 4, 5, 6]
    assert result.stopped == "early-stopping" and result.best_valid_loss == 3.0
    best = CraftedValidation.seen[2]
    for k, v in result.model.state_dict().items():
        torch.testing.assert_close(v, best[k], rtol=0, atol=0)
    assert any(not torch.equal(v, CraftedValidation.seen[5][k]) for k, v in best.items())


def test_schedule_warmup_and_adam_settings_reach_the_optimiser():
    cfg = {
        **TINY,
        "epochs": 4,
        "lr_schedule": "step",
        "lr_decay": 0.1,
        "lr_step_epochs": 2,
        "kl_warmup_epochs": 3,
        "adam_betas": [0.8, 0.99],
        "adam_eps": 1e-4,
    }
    result = train(cfg, progress=False)
    assert [m["lr"] for m in result.metrics] == pytest.approx([3e-3, 3e-3, 3e-4, 3e-4], rel=1e-12)
    assert [m["kl_weight"] for m in result.metrics] == pytest.approx(
        [1 / 3, 2 / 3, 1, 1], rel=1e-12
    )
    trainer = Trainer(
        resolve_config(cfg, image_shape=[1, 8, 8], num_levels=17),
        pgm.build(resolve_config(cfg, image_shape=[1, 8, 8], num_levels=17)),
    )
    group = trainer.optimizer.param_groups[0]
    assert group["betas"] == (0.8, 0.99) and group["eps"] == 1e-4


def _metrics(run) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


@pytest.mark.parametrize("limit", [{"max_epochs": 2}, {"time_budget": 0.0}])
def test_a_cut_short_run_with_a_schedule_resumes_exactly(tmp_path, limit):
    """A run cut short by a session limit (at epoch 2, or after epoch 1 with a zero time budget)
    and resumed ends bitwise where an uninterrupted run ends: the schedule's learning rate, the
    warm-up's beta and the early-stopping counters all continue from the checkpoint."""
    cfg = {
        **TINY,
        "epochs": 5,
        "lr_schedule": "exponential",
        "lr_decay": 0.7,
        "kl_warmup_epochs": 3,
        "early_stopping_patience": 4,
        "adam_eps": 1e-4,
    }
    whole = train(cfg, tmp_path / "whole", progress=False)
    assert whole.stopped is None
    cut = train(cfg, tmp_path / "cut", progress=False, **limit)
    assert cut.stopped == ("max-epochs" if "max_epochs" in limit else "time-budget")
    assert len(cut.metrics) == (2 if "max_epochs" in limit else 1)
    assert (tmp_path / "cut" / "model.safetensors").is_file()  # evaluable while cut short
    resumed = train(cfg, tmp_path / "cut", resume=True, progress=False)
    assert resumed.stopped is None
    assert _metrics(tmp_path / "cut") == _metrics(tmp_path / "whole")
    a, b = (
        load_file(tmp_path / "whole" / "model.safetensors"),
        load_file(tmp_path / "cut" / "model.safetensors"),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_stopped_early_stays_stopped_on_resume(tmp_path):
    CraftedValidation.seen = []
    cfg = {**TINY, "epochs": 8, "early_stopping_patience": 2}
    first = train(cfg, tmp_path / "run", trainer_class=CraftedValidation, progress=False)
    assert first.stopped == "early-stopping" and len(first.metrics) == 5
    again = train(
        cfg, tmp_path / "run", resume=True, trainer_class=CraftedValidation, progress=False
    )
    assert again.stopped == "early-stopping" and len(again.metrics) == 5


def test_resume_refuses_a_changed_schedule(tmp_path):
    cfg = {**TINY, "epochs": 2, "lr_schedule": "iwae"}
    train(cfg, tmp_path / "run", progress=False, max_epochs=1)
    with pytest.raises(ConfigError, match="lr_schedule"):
        train({**cfg, "lr_schedule": "constant"}, tmp_path / "run", resume=True, progress=False)
