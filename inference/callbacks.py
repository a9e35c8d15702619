"""Training callbacks: what a fit does around its steps, one concern each.

A :class:`Callback` is called by :meth:`inference.trainer.Trainer.fit` at fixed points
(pythae's ``training_callbacks.py`` and Lightning's callbacks are the models): the trainer
(its counters, ``metrics``, ``best_state``, ``stop_reason``...) is the state they read and set.
Per epoch they run in the order the trainer lists them (:meth:`Trainer.default_callbacks`):
progress, best weights, loggers, early stopping, session limits, the caller's own, then
checkpoints and ``metrics.jsonl`` — so a checkpoint holds every decision of its epoch. A
callback that ends training sets ``trainer.stop_reason``; the loop stops at the epoch's end.
"""

from __future__ import annotations

import math
import time

from . import trainer_state
from .callback import Callback, CallbackList
from .checkpoint import save_weights
from .early_stopping import should_stop
from .elbo_parts import rate_distortion
from .kill_point import kill_point
from .loggers import LOGGERS, Logger
from .progress import is_terminal, log_line, progress_bar
from .sample_grid import sample_grid

__all__ = [
    "BestState",
    "Callback",
    "CallbackList",
    "Checkpointing",
    "EarlyStopping",
    "LoggerCallback",
    "ProgressBar",
    "SessionLimits",
]


class ProgressBar(Callback):
    """A live bar of steps on a terminal; elsewhere (a log file) one line per epoch."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None

    def on_train_start(self, trainer):
        if not self.enabled or not is_terminal():
            return
        steps = math.ceil(trainer.train_x.shape[0] / trainer.training.batch_size)
        self.bar = progress_bar(
            total=trainer.training.epochs * steps,
            initial=trainer.epoch * steps,
            desc=f"train {trainer.config.get('model', type(trainer.model).__name__)}",
            unit="step",
        )

    def on_step_end(self, trainer, loss):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(epoch=trainer.epoch + 1, loss=f"{loss:.3f}")

    def on_epoch_end(self, trainer, record):
        if self.enabled and self.bar is None:
            valid = record.get("valid_loss")
            log_line(
                f"train {trainer.config.get('model', type(trainer.model).__name__)}: epoch "
                f"{record['epoch']}/{trainer.training.epochs}, train_loss "
                f"{record['train_loss']:.4f}"
                + (f", valid_loss {valid:.4f}" if valid is not None else "")
                + f", {record['seconds']:.1f} s"
            )

    def on_close(self, trainer):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class BestState(Callback):
    """Keep the weights of the epoch with the lowest validation loss (``best_valid_loss`` in
    the record), and end the fit with them."""

    def on_epoch_end(self, trainer, record):
        if "valid_loss" not in record:
            return
        if record["valid_loss"] < trainer.best_valid_loss:
            trainer.best_valid_loss = record["valid_loss"]
            trainer.best_epoch = trainer.epoch
            trainer.best_state = {
                k: v.detach().clone() for k, v in trainer.model.state_dict().items()
            }
        record["best_valid_loss"] = trainer.best_valid_loss

    def on_train_end(self, trainer):
        if trainer.best_state is not None:
            trainer.model.load_state_dict(trainer.best_state)


class EarlyStopping(Callback):
    """Stop once ``patience`` epochs passed without a better validation loss (0: off); the
    decision is saved in checkpoints, so a resumed run stays stopped."""

    def __init__(self, patience: int):
        self.patience = patience

    def on_epoch_end(self, trainer, record):
        if "valid_loss" in record and should_stop(trainer.epoch, trainer.best_epoch, self.patience):
            trainer.stopped_early, trainer.stop_reason = True, "early-stopping"


class SessionLimits(Callback):
    """This session's limits: ``max_epochs`` (epochs in all, counted from the run's start) and
    ``time_budget`` (seconds of this fit; stop when the next epoch, as long as the last one
    with its validation, would overrun). A run they cut short resumes exactly."""

    def __init__(self, max_epochs: int | None = None, time_budget: float | None = None):
        self.max_epochs, self.time_budget = max_epochs, time_budget
        self.began = self.started = 0.0

    def _over_max_epochs(self, trainer) -> bool:
        return self.max_epochs is not None and trainer.epoch >= self.max_epochs

    def on_train_start(self, trainer):
        self.began = time.perf_counter()
        if trainer.stop_reason is None and trainer.epoch < trainer.training.epochs:
            if self._over_max_epochs(trainer):
                trainer.stop_reason = "max-epochs"

    def on_epoch_start(self, trainer):
        self.started = time.perf_counter()

    def on_epoch_end(self, trainer, record):
        if trainer.stop_reason is not None or trainer.epoch >= trainer.training.epochs:
            return
        now = time.perf_counter()
        if self._over_max_epochs(trainer):
            trainer.stop_reason = "max-epochs"
        elif (
            self.time_budget is not None
            and (now - self.began) + (now - self.started) > self.time_budget
        ):
            trainer.stop_reason = "time-budget"


class Checkpointing(Callback):
    """Every ``checkpoint_every`` epochs and at the last one: a checkpoint, then
    ``metrics.jsonl``; at the end, ``model.safetensors`` (the weights the fit ends with)."""

    def on_epoch_end(self, trainer, record):
        last = trainer.epoch == trainer.training.epochs or trainer.stop_reason is not None
        if trainer.epoch % trainer.training.checkpoint_every == 0 or last:
            trainer.save_checkpoint()
            if trainer._kill_at:
                kill_point(f"after-checkpoint:{trainer.epoch}")
            trainer.callbacks.on_checkpoint(trainer)
        trainer_state.write_metrics(trainer)

    def on_train_end(self, trainer):
        save_weights(trainer.folder.weights, trainer.model, trainer_state.identity(trainer))


#: images in a sample grid, and images of the fixed batch the ELBO's parts are computed on
GRID_SAMPLES = 16
PARTS_BATCH = 64
#: seed offsets (from the run's seed) of the grid's and the parts' noise
_GRID_SEED, _PARTS_SEED = 2, 3


class LoggerCallback(Callback):
    """Feeds the config's logger (:data:`LOGGERS`) from a fit: each epoch's record and, when
    the logger asks, the ELBO's parts on a fixed batch (the first :data:`PARTS_BATCH` valid
    images, else training images) and a grid of samples at each checkpoint."""

    def __init__(self, name: str):
        self.name = name
        self.logger: Logger | None = None

    def on_train_start(self, trainer):
        self.logger = LOGGERS[self.name](trainer.folder)
        self.logger.start(trainer.config, list(trainer.metrics))

    def on_epoch_end(self, trainer, record):
        self.logger.log_epoch(record, trainer.metrics)
        if self.logger.wants_elbo_parts:
            x = trainer.valid_x if trainer.valid_x is not None else trainer.train_x
            parts = rate_distortion(
                trainer.model, x[:PARTS_BATCH], trainer.training.seed + _PARTS_SEED
            )
            if parts is not None:
                self.logger.log_scalars({f"elbo/{k}": v for k, v in parts.items()}, trainer.epoch)

    def on_checkpoint(self, trainer):
        if self.logger.wants_images:
            grid = sample_grid(trainer.model, GRID_SAMPLES, trainer.training.seed + _GRID_SEED)
            if grid is not None:
                self.logger.log_images("samples", grid, trainer.epoch)

    def on_close(self, trainer):
        if self.logger is not None:
            self.logger.close()
            self.logger = None
