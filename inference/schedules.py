"""Learning-rate schedules: the learning rate of each epoch as a pure function of its index.

Being a function of ``(config, epoch)`` alone, a schedule needs no state of its own: a resumed
run sets exactly the learning rate an uninterrupted one would have set.
"""

from __future__ import annotations

from pgm.errors import PgmError

__all__ = ["LR_SCHEDULES", "IWAE_STAGES", "iwae_stage", "learning_rate"]

#: The schedules a config's ``lr_schedule`` may name.
LR_SCHEDULES = ("constant", "exponential", "iwae", "step")

#: Burda et al. (2016), Sec. 5: stage i = 0..7 lasts 3**i epochs (3280 in all).
IWAE_STAGES = 8


def iwae_stage(epoch: int) -> int:
    """The stage i of the IWAE schedule that 0-based ``epoch`` falls in: epochs
    ``[(3**i - 1) / 2, (3**(i+1) - 1) / 2)``; epochs past 3280 stay in the last stage."""
    i, end = 0, 1
    while epoch >= end and i < IWAE_STAGES - 1:
        i += 1
        end += 3**i
    return i


def learning_rate(cfg: dict, epoch: int) -> float:
    """The learning rate of 0-based ``epoch``:

    - ``constant``: ``lr``;
    - ``step``: ``lr * lr_decay ** (epoch // lr_step_epochs)``;
    - ``exponential``: ``lr * lr_decay ** epoch``;
    - ``iwae``: ``lr * 10 ** (-i / 7)`` in stage i (3**i epochs each, i = 0..7) — with
      ``lr = 1e-3`` the schedule of Burda et al. (2016), Sec. 5.

    References:
        Y. Burda, R. Grosse, R. Salakhutdinov. "Importance Weighted Autoencoders." ICLR 2016.
    """
    lr, schedule = float(cfg["lr"]), cfg.get("lr_schedule", "constant")
    if schedule == "constant":
        return lr
    if schedule == "step":
        return lr * float(cfg["lr_decay"]) ** (epoch // int(cfg["lr_step_epochs"]))
    if schedule == "exponential":
        return lr * float(cfg["lr_decay"]) ** epoch
    if schedule == "iwae":
        return lr * 10.0 ** (-iwae_stage(epoch) / 7)
    raise PgmError(f"lr_schedule: expected one of {', '.join(LR_SCHEDULES)}; found {schedule!r}")
