"""The SVI trainer: one step (:meth:`Trainer.train_step`: the ELBO with its KL weight, the NaN
guard, gradient clipping, Adam), a lean epoch loop, and callbacks for everything else
(:mod:`inference.callbacks`: best weights, early stopping, session limits, checkpoints and
``metrics.jsonl``, progress, loggers).

Each checkpoint (``checkpoints/epoch-XXXXX.safetensors`` in the run folder) holds everything
the next epoch depends on (weights, Adam's state, the best weights so far, the RNG states;
the data order is a pure function of seed and epoch; :mod:`inference.trainer_state`), and
``metrics.jsonl`` is rewritten from the checkpoint on resume, so a kill between a checkpoint
and its metrics line loses nothing. A run's lifecycle (check, create the folder, resume, train)
is :class:`inference.run.Run`'s.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyro
import torch

import pgm
from pgm.contract import probe, trace_pair
from pgm.errors import PgmTypeError

from . import trainer_state
from .callback import Callback, CallbackList
from .callbacks import (
    BestState,
    Checkpointing,
    EarlyStopping,
    LoggerCallback,
    ProgressBar,
    SessionLimits,
)
from .config import ConfigError, resolve_config, warn_initialisation
from .denormals import flush_denormals
from .elbo import make_elbo
from .kill_point import KILL_AT_ENV, kill_point
from .kl_warmup import KLWarmup, kl_weight
from .nan_diagnosis import (
    NonFiniteLossError,
    check_gradients,
    check_invalid_parameters,
    check_loss,
)
from .run_folder import RunFolder
from .schedules import learning_rate
from .training_config import TrainingConfig

__all__ = [
    "FitResult",
    "NonFiniteLossError",
    "Trainer",
    "fit_model",
    "resolve_device",
    "seed_everything",
]


@dataclass
class FitResult:
    model: pgm.GenerativeModel
    config: dict
    run_dir: Path | None
    metrics: list[dict] = field(default_factory=list)
    best_valid_loss: float = math.inf
    #: why training ended before ``epochs``: ``"early-stopping"`` (the recipe's own end),
    #: ``"max-epochs"`` or ``"time-budget"`` (a session limit: ``--resume`` carries on); None
    #: when every epoch ran
    stopped: str | None = None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device: 'cuda' was asked for but torch sees no CUDA device; use 'cpu' or 'auto'"
        )
    return torch.device(name)


def network_seed(seed):
    """The part of ``seed`` that decides the network: torch's CPU generator (Mersenne Twister)
    reads the low 32 bits of a seed, so seeds 5 and 5 + 2**32 draw the same initial weights and
    data order and, on the CPU, train the same network (CUDA's generator reads all 64 bits, so
    there only the noise of the steps differs: still not independent seeds). Anything not an
    int (a run recorded without a seed) is returned as it is."""
    return seed % 2**32 if isinstance(seed, int) and not isinstance(seed, bool) else seed


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(network_seed(seed))
    torch.manual_seed(seed)  # reads network_seed(seed), the low 32 bits


class Trainer:
    """Fit a built model by SVI with a plain torch optimiser over its parameters.

    ``config`` is the typed :class:`TrainingConfig` (the single home of the training defaults),
    or a run's resolved flat config, whose training keys are read into one; the flat config is
    what checkpoints record. The ELBO is Pyro's (``Trace_ELBO``, ``TraceMeanField_ELBO``, or the
    importance-weighted bound); its ``differentiable_loss`` gives the loss, and
    ``torch.optim.Adam`` steps the module's parameters directly. Pyro's param store is not used,
    so nothing global is shared between models trained in one process, and checkpoints hold
    plain tensors. ``data_identity`` (of the data trained on) is recorded in checkpoints and
    checked on resume; ``callbacks`` run after the built-in ones (before checkpointing).
    """

    def __init__(
        self,
        config: TrainingConfig | Mapping,
        model: pgm.GenerativeModel,
        run_dir: str | Path | None = None,
        *,
        data_identity: dict | None = None,
        callbacks: list[Callback] | None = None,
    ):
        if isinstance(config, TrainingConfig):
            self.training, self.config = config, config.as_dict()
        else:
            self.training, self.config = TrainingConfig.from_config(config), dict(config)
        self._schedule = self.training.as_dict()
        self.device = resolve_device(self.training.device)
        self.model = model.to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.folder = RunFolder(run_dir) if run_dir is not None else None
        self.data_identity = data_identity
        self.extra_callbacks = list(callbacks or [])
        self.optimizer = torch.optim.Adam(
            self.model.parameters(),
            lr=learning_rate(self._schedule, 0),
            betas=tuple(self.training.adam_betas),
            eps=self.training.adam_eps,
        )
        self.epoch = 0
        self.step = 0
        self.best_valid_loss = math.inf
        self.best_epoch = 0  # the epoch whose weights are best_state (0: none yet)
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped_early = False  # early stopping ended the run (saved in checkpoints)
        self.stop_reason: str | None = None  # set by a callback to end fit at an epoch's end
        self.metrics: list[dict] = []
        self.elbo = None
        self.callbacks = CallbackList([])
        self.train_x: torch.Tensor | None = None
        self.valid_x: torch.Tensor | None = None
        self._checked: tuple[int, int] | None = None
        # read once: the per-step kill point then costs one comparison (tests only)
        self._kill_at = os.environ.get(KILL_AT_ENV)

    # -- the objective -------------------------------------------------------------------
    def objective(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Negative ELBO per image (a scalar), with the latent sites scaled by ``beta``."""
        model, guide = self.model.model, self.model.guide
        if beta < 1.0:
            model, guide = KLWarmup(beta)(model), KLWarmup(beta)(guide)
        if self.training.precision != "bf16":  # no autocast context on the fp32 hot path
            return self.elbo.differentiable_loss(model, guide, x) / x.shape[0]
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            return self.elbo.differentiable_loss(model, guide, x) / x.shape[0]

    def batch_loss(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """The loss a step (and validation) computes on a batch: :meth:`objective` here; the
        DDP trainer computes it on this rank's shard (:mod:`inference.distributed`)."""
        return self.objective(x, beta)

    def train_step(self, xb: torch.Tensor, beta: float = 1.0) -> float:
        """One SVI step on the batch ``xb`` with KL weight ``beta``: loss, NaN guard, backward,
        gradient clipping, Adam. Returns the loss; nothing is stepped when it is not finite."""
        try:
            loss = self.batch_loss(xb, beta)
        except ValueError as err:
            check_invalid_parameters(err, self.model, xb, self.step, self.epoch)
            raise
        check_loss(loss, self.model, xb, self.step, self.epoch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        check_gradients(self.model, xb, self.step, self.epoch)
        if self.training.normalize_gradients:  # AdamNormGrad (Tomczak & Welling's code)
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.div_(p.grad.norm() + 1e-7)
        if self.training.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.training.grad_clip)
        self.optimizer.step()
        self.step += 1
        if self._kill_at:
            kill_point(f"step:{self.step}")
        return float(loss.detach())

    # -- checks before training ------------------------------------------------------------
    def _cuda_devices(self) -> list[int]:
        return [self.device.index or 0] if self.device.type == "cuda" else []

    def _setup(self, x: torch.Tensor) -> None:
        # The probe samples the guide; a forked RNG keeps it from shifting the training stream,
        # so a resumed run (which probes after restoring the RNG) draws what an uninterrupted
        # one draws. Eval mode too: the checking passes leave module state alone (a
        # BatchNorm's running statistics), so they change nothing training or a checkpoint sees.
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.random.fork_rng(devices=self._cuda_devices()):
                nesting, _ = probe(self.model.model, self.model.guide, x[:2])
                self._refuse_param_store_sites(x[:2])
                self.elbo = make_elbo(self.training.elbo, self.training.num_particles, nesting)
                # One call of Pyro's objective meets a bad pair (site mismatch, shapes) before
                # the run folder exists.
                with torch.no_grad():
                    self.objective(x[:2])
        finally:
            self.model.train(was_training)

    @torch.no_grad()
    def _refuse_param_store_sites(self, x: torch.Tensor) -> None:
        """Refuse ``pyro.param`` sites that are not parameters of the model's modules.

        The optimiser steps ``self.model.parameters()`` and checkpoints hold its
        ``state_dict``; a tensor living only in Pyro's global param store would silently stay
        untrained and unsaved (and Pyro's own store files are pickles, which pgm never reads).
        A ``PyroParam`` of a ``PyroModule`` is a module parameter, so it is accepted.
        """
        model_trace, guide_trace = trace_pair(self.model.model, self.model.guide, x)
        own = {id(p) for p in self.model.parameters()}
        store = dict(pyro.get_param_store().named_parameters())
        foreign = sorted(
            name
            for trace in (model_trace, guide_trace)
            for name, site in trace.nodes.items()
            if site["type"] == "param" and id(store.get(name)) not in own
        )
        if foreign:
            raise PgmTypeError(
                f"model: expected every learnable tensor to be an nn.Parameter of the model's "
                f"modules; found pyro.param site(s) {foreign} in Pyro's global param store, which "
                "pgm's trainer would neither optimise nor checkpoint (make them nn.Parameter or "
                "PyroParam attributes of the model)"
            )

    def prepare(self, train_x: torch.Tensor, valid_x: torch.Tensor | None = None) -> None:
        """Check the data against the model and trace the model/guide pair once (shapes, plates,
        observed site), consuming no randomness; ``fit`` does this itself when not done."""
        self.model.check_data(train_x, "train data")
        if valid_x is not None:
            self.model.check_data(valid_x, "valid data")
        self._setup(train_x.to(self.device).float())
        self._checked = (id(train_x), id(valid_x))

    @torch.no_grad()
    def valid_loss(self, x: torch.Tensor, batch_size: int = 1024) -> float:
        """Mean negative ELBO per image on ``x``, with fixed noise (common random numbers
        across epochs) drawn from a forked RNG, so validation never shifts training's stream."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.random.fork_rng(devices=self._cuda_devices()):
                torch.manual_seed(self.training.seed + 1)
                total = 0.0
                for start in range(0, x.shape[0], batch_size):
                    xb = x[start : start + batch_size]
                    try:
                        loss = self.batch_loss(xb)
                    except ValueError as err:  # a run diverged: as a NaN loss would say
                        check_invalid_parameters(
                            err, self.model, xb, self.step, self.epoch, validating=True
                        )
                        raise
                    total += float(loss) * xb.shape[0]
        finally:
            self.model.train(was_training)
        return total / x.shape[0]

    # -- checkpoints (the state they hold: inference.trainer_state) ------------------------
    def save_checkpoint(self) -> None:
        trainer_state.save_checkpoint(self)

    def load_checkpoint(self, path: Path) -> None:
        """Restore everything ``save_checkpoint`` wrote; a file that is not a pgm checkpoint of
        this model is refused by name (never unpickled)."""
        trainer_state.load_checkpoint(self, path)

    def latest_checkpoint(self) -> Path | None:
        return self.folder.latest_checkpoint()

    def restore(self) -> None:
        """Continue the run in the folder: load its latest checkpoint (if any), and make
        ``metrics.jsonl`` the checkpoint's, which may lag it (a kill between the two) or lead
        it (epochs past the last checkpoint)."""
        latest = self.latest_checkpoint()
        if latest is not None:
            self.load_checkpoint(latest)
        trainer_state.write_metrics(self, unless_same=True)

    # -- the loop -----------------------------------------------------------------------
    def default_callbacks(
        self, progress: bool, max_epochs: int | None, time_budget: float | None
    ) -> list[Callback]:
        """What a fit runs besides the steps, in order: progress, best weights, loggers, early
        stopping, session limits, the caller's callbacks, then checkpoints and metrics."""
        callbacks: list[Callback] = [ProgressBar(progress), BestState()]
        if self.folder is not None:
            callbacks.append(LoggerCallback(self.training.logger))
        callbacks += [
            EarlyStopping(self.training.early_stopping_patience),
            SessionLimits(max_epochs, time_budget),
            *self.extra_callbacks,
        ]
        if self.folder is not None:
            callbacks.append(Checkpointing())
        return callbacks

    def data_order(self, n: int) -> torch.Tensor:
        """The epoch's order of the ``n`` training images: a pure function of (seed, epoch),
        so nothing needs saving for it."""
        # modulo 2**63: a seed above ~9.2e13 overflowed the generator's int64 with a traceback
        # (every seed below it gets the same order as before)
        mixed = (self.training.seed * 100_003 + self.epoch) % 2**63
        generator = torch.Generator().manual_seed(mixed)
        return torch.randperm(n, generator=generator).to(self.device)

    def train_epoch(self, train_x: torch.Tensor) -> dict:
        """One epoch of :meth:`train_step` over ``train_x``; returns its metrics record."""
        started = time.perf_counter()
        lr = learning_rate(self._schedule, self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        beta = kl_weight(self.epoch, self.training.kl_warmup_epochs)
        n, bs = train_x.shape[0], self.training.batch_size
        order = self.data_order(n)
        total = 0.0
        for i in range(math.ceil(n / bs)):
            xb = train_x[order[i * bs : (i + 1) * bs]]
            value = self.train_step(xb, beta)
            total += value * xb.shape[0]
            self.callbacks.on_step_end(self, value)
        seconds = time.perf_counter() - started
        return {
            "epoch": self.epoch + 1,
            "step": self.step,
            "train_loss": total / n,
            "kl_weight": beta,
            "lr": lr,
            "seconds": seconds,
            "images_per_second": n / seconds if seconds > 0 else None,
        }

    def fit(
        self,
        train_x: torch.Tensor,
        valid_x: torch.Tensor | None = None,
        progress: bool = True,
        max_epochs: int | None = None,
        time_budget: float | None = None,
    ) -> FitResult:
        """Train from ``self.epoch`` to ``epochs``, or until early stopping
        (``early_stopping_patience`` epochs without a better valid loss). ``max_epochs`` (a
        total, counted from the run's start) and ``time_budget`` (seconds of this call) are
        session limits: training stops at an epoch boundary, after a checkpoint, as soon as
        the next epoch would pass one (the budget judged by the last epoch's duration), and
        ``FitResult.stopped`` says which; the run then resumes exactly."""
        if self._checked != (id(train_x), id(valid_x)) or self.elbo is None:
            self.prepare(train_x, valid_x)
        train_x = train_x.to(self.device).float()
        valid_x = None if valid_x is None else valid_x.to(self.device).float()
        self.train_x, self.valid_x = train_x, valid_x  # for callbacks (loggers' fixed batch)
        self.stop_reason = "early-stopping" if self.stopped_early else None
        self.callbacks = CallbackList(self.default_callbacks(progress, max_epochs, time_budget))
        self.model.train()
        # on the CPU, denormals flushed (or kept: flush_denormal) while training, as they
        # were before afterwards; a CUDA session leaves the CPU's state alone
        cpu = self.device.type == "cpu"
        with flush_denormals(self.training.flush_denormal) if cpu else contextlib.nullcontext():
            try:
                self.callbacks.on_train_start(self)
                while self.epoch < self.training.epochs and self.stop_reason is None:
                    self.callbacks.on_epoch_start(self)
                    record = self.train_epoch(train_x)
                    if valid_x is not None:
                        record["valid_loss"] = self.valid_loss(valid_x)
                    self.metrics.append(record)
                    self.epoch += 1
                    self.callbacks.on_epoch_end(self, record)
                self.callbacks.on_train_end(self)
            finally:
                self.callbacks.on_close(self)
        self.model.eval()
        return FitResult(
            self.model,
            self.config,
            self.run_dir,
            self.metrics,
            self.best_valid_loss,
            self.stop_reason,
        )


def fit_model(
    model: pgm.GenerativeModel,
    train_x: torch.Tensor,
    valid_x: torch.Tensor | None = None,
    **settings,
) -> FitResult:
    """Train an already-built model on tensors, in memory (no run folder); ``settings`` are
    training keys (``epochs``, ``lr``, ``elbo``...)."""
    cfg = copy.deepcopy(settings)
    cfg.update({k: v for k, v in model.config.items() if k not in cfg})
    cfg.setdefault("image_shape", list(model.event_shape))
    cfg.setdefault("num_levels", model.num_levels)
    cfg = resolve_config(cfg)
    warn_initialisation(cfg)
    return Trainer(cfg, model).fit(train_x, valid_x, progress=False)
