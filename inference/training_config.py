"""The training layer's config keys (epochs, optimiser, ELBO, session settings): defaults and
checks in one typed :class:`TrainingConfig`; adding a training option means adding a field here."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from pgm.config_keys import declare_keys
from pgm.errors import PgmError
from pgm.validation import check_bool, check_choice, check_float, check_int

from .elbo import ELBOS
from .loggers import check_logger
from .schedules import LR_SCHEDULES

__all__ = ["TRAINING_KEYS", "TRAINING_SESSION_KEYS", "TrainingConfig"]

# field metadata: a session key says how a session runs, not what it trains (a resume may
# change it); an optional key is recorded only when the config gives it
_SESSION = {"session": True}


@dataclass(frozen=True)
class TrainingConfig:
    """How a model is trained, checked when made (a bad value is refused in one line naming
    its key). The keys of other layers (model, data) are not read here."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    lr_schedule: str = "constant"  # constant, step, exponential, iwae (inference/schedules.py)
    lr_decay: float = 0.5  # step: factor every lr_step_epochs; exponential: factor every epoch
    lr_step_epochs: int = 10
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    adam_eps: float = 1e-8
    early_stopping_patience: int = 0  # look-ahead in epochs on the valid loss; 0: off
    seed: int = 0
    device: str = field(default="auto", metadata=_SESSION)
    precision: str = "fp32"
    elbo: str = "trace"
    num_particles: int = 1
    kl_warmup_epochs: int = 0  # beta rises linearly over these epochs (Tomczak & Welling 2018)
    grad_clip: float = 0.0  # 0: no clipping
    # each parameter's gradient divided by its L2 norm (+1e-7) before the optimiser step, as
    # the VampPrior authors' AdamNormGrad does; recorded only when true (false is what runs
    # before the key trained with: both resolve to no key, one config and one model group)
    normalize_gradients: bool | None = field(default=None, metadata={"optional": True})
    # no effect since evaluate, compare and suite share one K (evaluation/defaults.py); kept as a
    # session key so that the runs which record it still load (CHANGELOG)
    eval_particles: int = field(default=1000, metadata=_SESSION)
    checkpoint_every: int = field(default=1, metadata=_SESSION)  # epochs
    # what resume needs: the last checkpoint (it holds the best epoch's weights too)
    keep_checkpoints: int = field(default=1, metadata=_SESSION)
    # metrics.jsonl always; a registered logger (inference.loggers.LOGGERS: jsonl, csv,
    # tensorboard, a plug-in's) adds its own
    logger: str = field(default="jsonl", metadata=_SESSION)
    num_workers: int | None = field(default=None, metadata={**_SESSION, "optional": True})
    # on the CPU, float32 denormals are flushed to zero while training (inference/denormals.py):
    # a trained VampPrior's gradients are full of them and x86 kernels slow down tenfold
    flush_denormal: bool = field(default=True, metadata=_SESSION)

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs", minimum=1)
        check_int(self.batch_size, "batch_size", minimum=1)
        check_float(self.lr, "lr", minimum=0.0, exclusive_minimum=True)
        check_int(self.seed, "seed", minimum=0, maximum=2**63 - 1)
        if self.num_workers is not None:
            check_int(self.num_workers, "num_workers", minimum=0)
            warn_once(
                "config: 'num_workers' has no effect: pgm holds a dataset in memory as one "
                "tensor and batches it without loader workers; ignored"
            )
        check_choice(self.device, "device", ("auto", "cpu", "cuda"))
        check_choice(self.precision, "precision", ("fp32", "bf16"))
        check_choice(self.elbo, "elbo", ELBOS)
        check_int(self.num_particles, "num_particles", minimum=1)
        check_int(self.eval_particles, "eval_particles", minimum=1)
        check_int(self.kl_warmup_epochs, "kl_warmup_epochs", minimum=0)
        check_choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES)
        check_float(self.lr_decay, "lr_decay", minimum=0.0, exclusive_minimum=True)
        if self.lr_decay > 1:
            raise PgmError(f"lr_decay: expected a factor in (0, 1]; found {self.lr_decay!r}")
        check_int(self.lr_step_epochs, "lr_step_epochs", minimum=1)
        betas = self.adam_betas
        if not (
            isinstance(betas, (list, tuple))
            and len(betas) == 2
            and all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                for b in betas
            )
        ):
            raise PgmError(
                f"adam_betas: expected [beta1, beta2] with each in [0, 1); found {betas!r}"
            )
        object.__setattr__(self, "adam_betas", [float(b) for b in betas])
        check_float(self.adam_eps, "adam_eps", minimum=0.0, exclusive_minimum=True)
        check_int(self.early_stopping_patience, "early_stopping_patience", minimum=0)
        check_float(self.grad_clip, "grad_clip", minimum=0.0)
        if self.normalize_gradients is not None:
            check_bool(self.normalize_gradients, "normalize_gradients")
            if not self.normalize_gradients:  # false is what a run without the key trained with
                object.__setattr__(self, "normalize_gradients", None)
        if self.normalize_gradients and self.grad_clip > 0:
            warn_once(
                "config: 'grad_clip' has almost no effect beside 'normalize_gradients': the "
                "normalised gradients' total norm is the square root of the number of parameter "
                "tensors, and clipping it scales every gradient alike, which Adam undoes"
            )
        check_int(self.checkpoint_every, "checkpoint_every", minimum=1)
        check_int(self.keep_checkpoints, "keep_checkpoints", minimum=1)
        check_bool(self.flush_denormal, "flush_denormal")
        check_logger(self.logger)  # registered, and its package installed

    @classmethod
    def from_config(cls, config: dict) -> TrainingConfig:
        """The training keys of a flat config (the others are left to their layers), defaults
        filled in."""
        return cls(**{k: config[k] for k in TRAINING_KEYS if k in config})

    def as_dict(self) -> dict[str, Any]:
        """The keys as recorded in ``config.json`` (an optional key only when given)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if not (f.metadata.get("optional") and getattr(self, f.name) is None)
        }


_WARNED: set[str] = set()


def warn_once(message: str) -> None:
    """Log ``message`` once per process: a config is resolved more than once per command."""
    if message not in _WARNED:
        _WARNED.add(message)
        logging.getLogger("pgm").warning(message)


_FIELDS = dataclasses.fields(TrainingConfig)
TRAINING_KEYS = tuple(f.name for f in _FIELDS)
#: keys that say how a session runs, not what it trains: a resume may change them
TRAINING_SESSION_KEYS = frozenset(f.name for f in _FIELDS if f.metadata.get("session"))
declare_keys("training", TRAINING_KEYS)
