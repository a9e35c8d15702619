"""The convergence rule on synthetic training curves: still falling, flat, over-fitting (the
autoencoder's 87 -> 110 climb), too short to tell."""

from __future__ import annotations

import pytest

from evaluation.convergence import FALL_TOLERANCE_NATS, MIN_WINDOW, convergence


def _metrics(valid: list[float]) -> list[dict]:
    return [{"epoch": i + 1, "train_loss": v, "valid_loss": v} for i, v in enumerate(valid)]


def test_still_falling_at_the_last_epoch():
    conv = convergence(_metrics([100 - 2 * i for i in range(20)]))  # -2 nats per epoch
    assert conv["status"] == "still falling" and conv["still_falling"] and not conv["overfitting"]
    assert conv["slope_per_epoch"] == pytest.approx(-2.0)
    assert conv["window_epochs"] == 4  # the last fifth of 20 epochs
    assert conv["best_epoch"] == 20 and conv["last_epoch"] == 20


def test_flat_within_tolerance_is_converged():
    # a fall of less than the tolerance across the window: converged
    step = 0.9 * FALL_TOLERANCE_NATS / 3
    conv = convergence(_metrics([50.0] * 16 + [50 - step * i for i in range(4)]))
    assert conv["status"] == "flat" and conv["still_falling"] is False


def test_overfitting_marks_the_best_epoch():
    valid = [120 - 2 * i for i in range(17)] + [
        88 + 1.5 * i for i in range(1, 16)
    ]  # 88 at epoch 17 -> 110.5
    conv = convergence(_metrics(valid))
    assert conv["status"] == "over-fitting" and conv["overfitting"]
    assert conv["best_epoch"] == 17 and conv["best_valid_loss"] == pytest.approx(88.0)
    assert conv["last_valid_loss"] > conv["best_valid_loss"] + 20


def test_too_few_epochs_is_unknown():
    conv = convergence(_metrics([10.0, 9.0][: MIN_WINDOW - 1]))
    assert conv["status"] == "unknown" and conv["still_falling"] is None
    assert convergence([])["status"] == "unknown"


def test_a_run_early_stopping_ended_is_not_still_falling():
    # falling until epoch 63, then 10 epochs without a better loss (patience 10): the slope over
    # the last fifth (epochs 59-73) is still negative, but the run had stopped improving
    valid = [100 - 0.5 * i for i in range(63)] + [69.2 + 0.05 * (i % 3) for i in range(10)]
    conv = convergence(_metrics(valid))
    assert conv["best_epoch"] == 63 and conv["slope_per_epoch"] < 0
    assert conv["still_falling"] is False and conv["status"] == "flat"
