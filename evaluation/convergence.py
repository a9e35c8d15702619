"""Whether a run's training had converged, read from its ``metrics.jsonl``: the validation loss's
slope over the last fifth of training, the best epoch (the weights kept), and over-fitting.

The rules, stated once (the report's Method section quotes :data:`RULE`):

- *still falling*: the least-squares slope of the validation loss over the last fifth of the
  epochs (at least :data:`MIN_WINDOW` epochs) times the window's length is a fall of more than
  :data:`FALL_TOLERANCE_NATS` nats per image, and the best epoch lies in the second half of that
  window — the run was still setting new bests, so more training would still have changed the
  model (a run that early stopping ended has gone ``patience`` epochs without one);
- *over-fitting*: the last epoch's validation loss is above the best epoch's by more than
  :data:`OVERFIT_TOLERANCE_NATS` nats and :data:`OVERFIT_TOLERANCE_RELATIVE` of the best
  (the trainer keeps the best epoch's weights, so the model compared is the best one).

:func:`convergence_warnings` turns these records into the warnings of a comparison, including
the one that matters most for a ranking: a significant difference that involves a run still
falling compares training budgets, not models.
"""

from __future__ import annotations

import math

import numpy as np

from . import warnings_text as text
from .warning_record import warning_record

__all__ = [
    "FALL_TOLERANCE_NATS",
    "MIN_WINDOW",
    "OVERFIT_TOLERANCE_NATS",
    "OVERFIT_TOLERANCE_RELATIVE",
    "RULE",
    "convergence",
    "convergence_warnings",
]

MIN_WINDOW = 3
FALL_TOLERANCE_NATS = 0.1
OVERFIT_TOLERANCE_NATS = 1.0
OVERFIT_TOLERANCE_RELATIVE = 0.02

RULE = (
    f"a run is still falling when the least-squares slope of its validation loss over the last "
    f"fifth of its epochs (at least {MIN_WINDOW}) amounts to a fall of more than "
    f"{FALL_TOLERANCE_NATS} nats per image across that window and its best epoch lies in the "
    f"second half of that window; it over-fits when its last "
    f"validation loss exceeds the best by more than {OVERFIT_TOLERANCE_NATS} nat and "
    f"{100 * OVERFIT_TOLERANCE_RELATIVE:.0f}%; the weights kept are the best epoch's"
)


def convergence(metrics: list[dict]) -> dict:
    """The convergence record of one run from its per-epoch metrics (``metrics.jsonl`` rows with
    ``epoch`` and ``valid_loss``):

    ``status`` (``"still falling"``, ``"flat"``, ``"over-fitting"``, or ``"unknown"`` with fewer
    than :data:`MIN_WINDOW` validated epochs), ``still_falling``, ``overfitting``,
    ``slope_per_epoch`` (nats per image per epoch over the window), ``window_epochs``,
    ``best_epoch``, ``best_valid_loss``, ``last_epoch``, ``last_valid_loss``.
    """
    valid = [
        (int(r["epoch"]), float(r["valid_loss"]))
        for r in metrics
        if r.get("valid_loss") is not None
    ]
    valid = [(e, v) for e, v in valid if math.isfinite(v)]
    out: dict = {
        "status": "unknown",
        "still_falling": None,
        "overfitting": None,
        "slope_per_epoch": None,
        "window_epochs": 0,
        "best_epoch": None,
        "best_valid_loss": None,
        "last_epoch": metrics[-1]["epoch"] if metrics else None,
        "last_valid_loss": valid[-1][1] if valid else None,
    }
    if not valid:
        return out
    best_epoch, best = min(valid, key=lambda ev: ev[1])
    out.update(best_epoch=best_epoch, best_valid_loss=best)
    window = max(MIN_WINDOW, math.ceil(len(valid) / 5))
    if len(valid) < window:
        return out
    epochs, losses = np.array(valid[-window:], dtype=float).T
    slope = float(np.polyfit(epochs, losses, 1)[0])
    last = valid[-1][1]
    recent_best = best_epoch >= epochs[-1] - (epochs[-1] - epochs[0]) / 2
    falling = -slope * (epochs[-1] - epochs[0]) > FALL_TOLERANCE_NATS and recent_best
    overfitting = last - best > max(OVERFIT_TOLERANCE_NATS, OVERFIT_TOLERANCE_RELATIVE * abs(best))
    out.update(
        slope_per_epoch=slope,
        window_epochs=window,
        still_falling=bool(falling),
        overfitting=bool(overfitting),
        status="over-fitting" if overfitting else "still falling" if falling else "flat",
    )
    return out


def convergence_warnings(convergences: dict[str, dict], comparisons: list[dict]) -> list[dict]:
    """The warnings of a comparison about convergence: one per run whose validation loss was
    still falling (or over-fitting) at its last epoch, and one when the ranking separates models
    that had not converged.

    :param convergences: each run's :func:`convergence` record, by the run's name in the report
        (in the report's order of runs).
    :param comparisons: the pairwise comparisons of ``results.json`` (``a``, ``b``,
        ``significant``).
    :returns: :func:`~.warning_record.warning_record` dicts.
    """
    out = []
    for name, conv in convergences.items():
        if conv["still_falling"]:
            out.append(
                warning_record(
                    "not-converged",
                    name,
                    "valid_loss_slope_per_epoch",
                    conv["slope_per_epoch"],
                    0.0,
                    text.not_converged(name, conv),
                )
            )
        if conv["status"] == "unknown" and conv["last_epoch"] is not None:
            out.append(
                warning_record(
                    "not-shown-to-converge",
                    name,
                    "last_epoch",
                    conv["last_epoch"],
                    MIN_WINDOW,
                    text.not_shown_to_converge(name, conv["last_epoch"], MIN_WINDOW),
                )
            )
        if conv["overfitting"]:
            out.append(
                warning_record(
                    "over-fitting",
                    name,
                    "valid_loss",
                    conv["last_valid_loss"],
                    conv["best_valid_loss"],
                    text.over_fitting(name, conv),
                )
            )
    # issue 19: a run too short for the rule is not shown to converge: the warning covers it
    falling = {
        name
        for name, conv in convergences.items()
        if conv["still_falling"] or conv["status"] == "unknown"
    }
    pairs = [
        c for c in comparisons if c["significant"] and (c["a"] in falling or c["b"] in falling)
    ]
    if pairs:
        out.append(
            warning_record(
                "ranking-not-converged",
                None,
                "significant_comparisons",
                len(pairs),
                0,
                text.ranking_not_converged(pairs),
            )
        )
    return out
