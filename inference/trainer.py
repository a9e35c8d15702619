"""The SVI training loop: ELBO choice, KL warm-up, Adam, seeds, device, validation monitoring,
progress, per-epoch metrics, atomic checkpoints of the trainer's state and exact resume, NaN guard.

Each checkpoint (``checkpoints/epoch-XXXXX.safetensors`` in the run folder) holds everything
the next epoch depends on (weights, Adam's state, the best weights so far, the RNG states;
the data order is a pure function of seed and epoch), and ``metrics.jsonl`` is rewritten from
the checkpoint on resume, so a kill between a checkpoint and its metrics line loses nothing.
The run folder's lifecycle (create, lock, resume, clean up) is :mod:`inference.run_folder`'s;
training a run from its config is :func:`inference.run.train`.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyro
import torch

import pgm
from pgm.contract import probe, sample_sites, trace_pair
from pgm.errors import PgmTypeError

from .atomic_write import atomic_write_text
from .checkpoint import (
    CheckpointError,
    flatten_optimizer_state,
    load_tensors,
    rng_state,
    save_tensors,
    save_weights,
    set_rng_state,
    unflatten_optimizer_state,
)
from .checkpoint_meta import check_checkpoint_meta, check_optimizer_state, sorted_checkpoints
from .config import ConfigError, resolve_config
from .early_stopping import should_stop
from .elbo import make_elbo
from .fingerprint import check_same_run, fingerprint
from .kill_point import KILL_AT_ENV, kill_point
from .kl_warmup import KLWarmup, kl_weight
from .run_folder import RunFolder
from .schedules import learning_rate

__all__ = [
    "FitResult",
    "NonFiniteLossError",
    "Trainer",
    "fit_model",
    "resolve_device",
    "seed_everything",
]


class NonFiniteLossError(FloatingPointError):
    """Training met a non-finite loss or gradient; the message names the step and, where it can
    be known, the Pyro site whose log-probability was not finite."""


@dataclass
class FitResult:
    model: pgm.GenerativeModel
    config: dict
    run_dir: Path | None
    metrics: list[dict] = field(default_factory=list)
    best_valid_loss: float = math.inf
    #: why training ended before ``config["epochs"]``: ``"early-stopping"`` (the recipe's own
    #: end), ``"max-epochs"`` or ``"time-budget"`` (a session limit: ``--resume`` carries on);
    #: None when every epoch ran
    stopped: str | None = None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device: 'cuda' was asked for but torch sees no CUDA device; use 'cpu' or 'auto'"
        )
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _describe_nonfinite(model, guide, x: torch.Tensor) -> str:
    """Name the sites whose log-probability (or value) is not finite, if any. Validation is off
    while tracing, so a distribution built from NaN parameters yields a NaN log-probability at
    its site instead of an error before the site exists."""
    try:
        with torch.no_grad(), pyro.validation_enabled(False), torch.random.fork_rng():
            model_trace, guide_trace = trace_pair(model, guide, x)
            bad = []
            # in the order they ran: the guide first, so the first site named is the earliest
            for which, trace in (("guide", guide_trace), ("model", model_trace)):
                trace.compute_log_prob()
                for name, site in sample_sites(trace):
                    if not torch.isfinite(torch.as_tensor(site["log_prob"])).all():
                        bad.append(f"{which} site {name!r}")
                    elif (
                        torch.is_tensor(site["value"])
                        and site["value"].is_floating_point()
                        and not torch.isfinite(site["value"]).all()
                    ):
                        bad.append(f"{which} site {name!r} (value)")
        return "; non-finite log-probability at " + ", ".join(bad) if bad else ""
    except Exception as err:  # the model may itself fail on such values
        first = str(err).splitlines()[0] if str(err) else ""
        return f"; tracing to find the site failed too ({type(err).__name__}: {first})"


def _first_line(err: BaseException) -> str:
    """The sentence of an error that says what went wrong (torch follows it with the values)."""
    text = str(err).strip()
    return text.splitlines()[0].rstrip(":") if text else type(err).__name__


class Trainer:
    """Fit a built model by SVI with a plain torch optimiser over its parameters.

    The ELBO is Pyro's (``Trace_ELBO``, ``TraceMeanField_ELBO``, or the importance-weighted
    bound); its ``differentiable_loss`` gives the loss, and ``torch.optim.Adam`` steps the
    module's parameters directly. Pyro's param store is not used, so nothing global is shared
    between models trained in one process, and checkpoints hold plain tensors.
    """

    def __init__(self, cfg: dict, model: pgm.GenerativeModel, run_dir: str | Path | None = None):
        self.cfg = cfg
        self.device = resolve_device(cfg["device"])
        self.model = model.to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.folder = RunFolder(run_dir) if run_dir is not None else None
        self.optimizer = torch.optim.Adam(
            self.model.parameters(),
            lr=learning_rate(cfg, 0),
            betas=tuple(cfg.get("adam_betas", (0.9, 0.999))),
            eps=cfg.get("adam_eps", 1e-8),
        )
        self.epoch = 0
        self.step = 0
        self.best_valid_loss = math.inf
        self.best_epoch = 0  # the epoch whose weights are best_state (0: none yet)
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped_early = False  # early stopping ended the run (saved in checkpoints)
        self.metrics: list[dict] = []
        self.elbo = None
        self.checkpoints_written = 0
        self.data_identity: dict | None = None  # of the data fit() trains on (set by train())
        self.recorded: dict = {}  # config and data identity of the checkpoint loaded, if any
        self._checked: tuple[int, int] | None = None
        self._tensorboard = None  # a SummaryWriter, opened at the first epoch logged
        # read once: the per-step kill point then costs one comparison (tests only)
        self._kill_at = os.environ.get(KILL_AT_ENV)

    # -- the objective -------------------------------------------------------------------
    def _objective(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Negative ELBO per image (a scalar), with the latent sites scaled by ``beta``."""
        model, guide = self.model.model, self.model.guide
        if beta < 1.0:
            model, guide = KLWarmup(beta)(model), KLWarmup(beta)(guide)
        if self.cfg["precision"] != "bf16":  # no autocast context at all on the fp32 hot path
            return self.elbo.differentiable_loss(model, guide, x) / x.shape[0]
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            return self.elbo.differentiable_loss(model, guide, x) / x.shape[0]

    def _setup(self, x: torch.Tensor) -> None:
        # The probe samples the guide; a forked RNG keeps it from shifting the training stream,
        # so a resumed run (which probes after restoring the RNG) draws what an uninterrupted
        # one draws.
        # Eval mode too: the checking passes leave module state alone (a BatchNorm's running
        # statistics), so they change nothing that training or a checkpoint sees.
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        was_training = self.model.training
        self.model.eval()
        try:
            self._check_pair(x, devices)
        finally:
            self.model.train(was_training)

    def _check_pair(self, x: torch.Tensor, devices: list[int]) -> None:
        with torch.random.fork_rng(devices=devices):
            nesting, _ = probe(self.model.model, self.model.guide, x[:2])
            self._refuse_param_store_sites(x[:2])
            self.elbo = make_elbo(self.cfg["elbo"], self.cfg["num_particles"], nesting)
            # One call of Pyro's objective here meets a bad pair (site mismatch, shapes) before
            # the run folder exists; the forked RNG keeps it from shifting training's stream.
            with torch.no_grad():
                self._objective(x[:2])

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
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.cfg["seed"] + 1)
            total = 0.0
            for start in range(0, x.shape[0], batch_size):
                xb = x[start : start + batch_size]
                total += float(self._objective(xb)) * xb.shape[0]
        self.model.train(was_training)
        return total / x.shape[0]

    def _log_scalars(self, record: dict) -> None:
        """With ``logger = "tensorboard"``, the epoch's numbers as TensorBoard scalars (through
        ``torch.utils.tensorboard``, the optional extra ``pgm[tensorboard]``) in RUN/tensorboard;
        metrics.jsonl is written either way."""
        if self.cfg.get("logger", "jsonl") != "tensorboard" or self.run_dir is None:
            return
        if self._tensorboard is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ImportError(
                    "logger: 'tensorboard' needs the tensorboard package "
                    "(pip install 'pgm[tensorboard]'); "
                    "found it missing"
                ) from None
            self._tensorboard = SummaryWriter(
                str(self.folder.tensorboard), purge_step=record["epoch"]
            )
        for key, value in record.items():
            if key != "epoch" and isinstance(value, int | float) and not isinstance(value, bool):
                self._tensorboard.add_scalar(key, value, record["epoch"])
        self._tensorboard.flush()

    # -- checkpoints -----------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        opt_tensors, opt_meta = flatten_optimizer_state(self.optimizer.state_dict())
        tensors.update(opt_tensors)
        if self.best_state is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_state.items()})
        rng_tensors, rng_meta = rng_state()
        tensors.update(rng_tensors)
        meta = {
            "epoch": self.epoch,
            "step": self.step,
            "best_valid_loss": self.best_valid_loss
            if math.isfinite(self.best_valid_loss)
            else None,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "metrics": self.metrics,
            "optimizer": opt_meta,
            "rng": rng_meta,
            **self._identity(),
        }
        save_tensors(self.folder.checkpoint(self.epoch), tensors, meta)
        self.checkpoints_written += 1
        # Rotate only after the new file is in place: the last `keep_checkpoints` stay, and so
        # does the best epoch's checkpoint, however old, until a better epoch replaces it.
        folder = self.folder.checkpoints
        best = self.folder.checkpoint(self.best_epoch) if self.best_epoch else None
        old = sorted_checkpoints(folder)[: -self.cfg["keep_checkpoints"]]
        for path in old:
            if path != best:
                path.unlink(missing_ok=True)

    def _identity(self) -> dict:
        """What this run trains: the resolved config, the data's identity, their fingerprint."""
        return {
            "config": self.cfg,
            "data": self.data_identity,
            "fingerprint": fingerprint(self.cfg, self.data_identity),
        }

    def latest_checkpoint(self) -> Path | None:
        return self.folder.latest_checkpoint()

    def restore(self) -> None:
        """Continue the run in the folder: load its latest checkpoint (if any), and make
        ``metrics.jsonl`` the checkpoint's, which may lag it (a kill between the two) or lead
        it (epochs past the last checkpoint)."""
        latest = self.latest_checkpoint()
        if latest is not None:
            self.load_checkpoint(latest)
        self._write_metrics()

    def load_checkpoint(self, path: Path) -> None:
        """Restore everything ``save_checkpoint`` wrote; a file that is not a pgm checkpoint of
        this model is refused by name (never unpickled)."""
        try:
            tensors, meta = load_tensors(path, device="cpu")
        except CheckpointError as err:
            older = [p.name for p in sorted_checkpoints(path.parent) if p != path]
            hint = f"; move it away to resume from {older[-1]}" if older else ""
            raise CheckpointError(f"{err}{hint}") from None
        check_checkpoint_meta(meta, path)
        if self.data_identity is not None:  # resuming a run: config.json may have been edited
            check_same_run(meta, self.cfg, self.data_identity, "--resume", path.name)
        try:
            state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
            self.model.load_state_dict(state)
            optimizer_state = unflatten_optimizer_state(tensors, meta["optimizer"])
            check_optimizer_state(optimizer_state, list(self.model.parameters()), path)
            self.optimizer.load_state_dict(optimizer_state)
            best = {k[5:]: v.to(self.device) for k, v in tensors.items() if k.startswith("best.")}
            self.best_state = best or None
            self.epoch, self.step = int(meta["epoch"]), int(meta["step"])
            bv = meta["best_valid_loss"]
            self.best_valid_loss = math.inf if bv is None else float(bv)
            self.best_epoch = int(meta.get("best_epoch", 0))
            self.stopped_early = bool(meta.get("stopped_early", False))
            self.metrics = list(meta["metrics"])
            self.recorded = {k: meta.get(k) for k in ("config", "data")}
            set_rng_state(tensors, meta["rng"])
        except CheckpointError:
            raise
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as err:
            found = _first_line(err) if not isinstance(err, KeyError) else f"no entry {err}"
            raise CheckpointError(
                f"{path}: expected a pgm training checkpoint of this model; found one that does "
                f"not fit ({found})"
            ) from None

    def _write_metrics(self) -> None:
        text = "".join(json.dumps(m) + "\n" for m in self.metrics)
        atomic_write_text(self.folder.metrics, text)

    # -- the loop -----------------------------------------------------------------------
    def fit(
        self,
        train_x: torch.Tensor,
        valid_x: torch.Tensor | None = None,
        progress: bool = True,
        max_epochs: int | None = None,
        time_budget: float | None = None,
    ) -> FitResult:
        """Train from ``self.epoch`` to ``cfg["epochs"]``, or until early stopping
        (``early_stopping_patience`` epochs without a better valid loss). ``max_epochs`` (a
        total, counted from the run's start) and ``time_budget`` (seconds of this call) are
        session limits: training stops at an epoch boundary, after a checkpoint, as soon as
        the next epoch would pass one (the budget judged by the last epoch's duration), and
        ``FitResult.stopped`` says which; the run then resumes exactly."""
        cfg = self.cfg
        began = time.perf_counter()
        stopped: str | None = "early-stopping" if self.stopped_early else None
        if self._checked != (id(train_x), id(valid_x)) or self.elbo is None:
            self.prepare(train_x, valid_x)
        train_x = train_x.to(self.device).float()
        valid_x = None if valid_x is None else valid_x.to(self.device).float()
        n, bs = train_x.shape[0], cfg["batch_size"]
        steps_per_epoch = math.ceil(n / bs)
        patience = cfg.get("early_stopping_patience", 0)
        from tqdm.auto import tqdm

        bar = tqdm(
            total=cfg["epochs"] * steps_per_epoch,
            initial=self.epoch * steps_per_epoch,
            desc=f"train {cfg['model']}",
            unit="step",
            disable=not progress,
            leave=False,
        )
        self.model.train()
        try:
            while self.epoch < cfg["epochs"] and stopped is None:
                if max_epochs is not None and self.epoch >= max_epochs:
                    stopped = "max-epochs"
                    break
                started, total = time.perf_counter(), 0.0
                lr = learning_rate(cfg, self.epoch)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                beta = kl_weight(self.epoch, cfg["kl_warmup_epochs"])
                # the data order is a pure function of (seed, epoch): nothing to save for it
                order = torch.randperm(
                    n, generator=torch.Generator().manual_seed(cfg["seed"] * 100_003 + self.epoch)
                )
                order = order.to(self.device)
                for i in range(steps_per_epoch):
                    xb = train_x[order[i * bs : (i + 1) * bs]]
                    try:
                        loss = self._objective(xb, beta)
                    except ValueError as err:
                        self._guard_invalid(err, xb)
                        raise
                    self._guard(loss, xb, "loss")
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self._guard_gradients(xb)
                    if cfg["grad_clip"] > 0:
                        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg["grad_clip"])
                    self.optimizer.step()
                    self.step += 1
                    if self._kill_at:
                        kill_point(f"step:{self.step}")
                    value = float(loss.detach())
                    total += value * xb.shape[0]
                    bar.update(1)
                    bar.set_postfix(epoch=self.epoch + 1, loss=f"{value:.3f}")
                seconds = time.perf_counter() - started
                record: dict[str, Any] = {
                    "epoch": self.epoch + 1,
                    "step": self.step,
                    "train_loss": total / n,
                    "kl_weight": beta,
                    "lr": lr,
                    "seconds": seconds,
                    "images_per_second": n / seconds if seconds > 0 else None,
                }
                if valid_x is not None:
                    vl = self.valid_loss(valid_x)
                    record["valid_loss"] = vl
                    if vl < self.best_valid_loss:
                        self.best_valid_loss = vl
                        self.best_epoch = self.epoch + 1
                        self.best_state = {
                            k: v.detach().clone() for k, v in self.model.state_dict().items()
                        }
                    record["best_valid_loss"] = self.best_valid_loss
                self.metrics.append(record)
                self.epoch += 1
                self._log_scalars(record)
                if valid_x is not None and should_stop(self.epoch, self.best_epoch, patience):
                    self.stopped_early, stopped = True, "early-stopping"
                elif self.epoch < cfg["epochs"]:
                    spent = time.perf_counter() - began
                    if max_epochs is not None and self.epoch >= max_epochs:
                        stopped = "max-epochs"
                    elif (
                        time_budget is not None
                        and spent + (time.perf_counter() - started) > time_budget
                    ):
                        # the next epoch, as long as this one (validation included), would overrun
                        stopped = "time-budget"
                if self.run_dir is not None:
                    last = self.epoch == cfg["epochs"] or stopped is not None
                    if self.epoch % cfg["checkpoint_every"] == 0 or last:
                        self.save_checkpoint()
                        if self._kill_at:
                            kill_point(f"after-checkpoint:{self.epoch}")
                    self._write_metrics()
        finally:
            bar.close()
            if self._tensorboard is not None:
                self._tensorboard.close()
                self._tensorboard = None
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        if self.run_dir is not None:
            save_weights(self.folder.weights, self.model, self._identity())
        self.model.eval()
        return FitResult(self.model, cfg, self.run_dir, self.metrics, self.best_valid_loss, stopped)

    def _guard_invalid(self, err: ValueError, xb: torch.Tensor) -> None:
        """A distribution refusing its parameters (Pyro/torch validation) mid-training is the
        same failure as a NaN loss, one step earlier: report it as such, naming the step."""
        text = str(err)
        params_finite = all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if "invalid values" not in text and params_finite:
            return  # a different mistake (shapes, support of the data): re-raised as it is
        where = _describe_nonfinite(self.model.model, self.model.guide, xb)
        weights = "" if params_finite else " (the model's weights are no longer finite)"
        raise NonFiniteLossError(
            f"step {self.step + 1} (epoch {self.epoch + 1}): a distribution's parameters are not "
            f"finite or outside their constraint{weights}: {_first_line(err)}{where}; training "
            "stopped, the last checkpoint is untouched (try a lower lr or grad_clip)"
        ) from None

    def _guard(self, loss: torch.Tensor, xb: torch.Tensor, what: str) -> None:
        if not torch.isfinite(loss):
            where = _describe_nonfinite(self.model.model, self.model.guide, xb)
            raise NonFiniteLossError(
                f"step {self.step + 1} (epoch {self.epoch + 1}): the {what} is "
                f"{float(loss.detach())}{where}; "
                "training stopped, the last checkpoint is untouched (try a lower lr or grad_clip)"
            )

    def _guard_gradients(self, xb: torch.Tensor) -> None:
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        # A plain sum is non-finite exactly when some element is (NaN stays NaN, inf − inf is
        # NaN), short of finite gradients near 1e38, which are a failure too: one read of each
        # gradient and no temporaries, where abs() would write a copy of every one first.
        if grads and not torch.isfinite(torch.stack([g.sum() for g in grads]).sum()):
            names = [
                n
                for n, p in self.model.named_parameters()
                if p.grad is not None and not torch.isfinite(p.grad).all()
            ]
            named = (
                ", ".join(names[:3])
                if names
                else "the parameters (finite, but summing past float range)"
            )
            where = _describe_nonfinite(self.model.model, self.model.guide, xb)
            raise NonFiniteLossError(
                f"step {self.step + 1} (epoch {self.epoch + 1}): non-finite gradient for "
                f"{named}{where}; training stopped, the last checkpoint is untouched"
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
    return Trainer(cfg, model).fit(train_x, valid_x, progress=False)
