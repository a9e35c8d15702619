"""The SVI training loop: ELBO choice, KL warm-up, Adam, seeds, device, validation monitoring,
progress, per-epoch metrics, atomic checkpoints and exact resume, NaN guard."""

from __future__ import annotations

import copy
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import pgm
from pgm.contract import probe, sample_sites, trace_pair
from pgm.data import ImageDataset, load_dataset

from .checkpoint import (
    CheckpointError,
    atomic_write_text,
    flatten_optimizer_state,
    load_tensors,
    rng_state,
    save_tensors,
    save_weights,
    set_rng_state,
    unflatten_optimizer_state,
)
from .config import ConfigError, resolve_config
from .elbo import make_elbo
from .kl_warmup import KLWarmup, kl_weight

__all__ = ["NonFiniteLossError", "Trainer", "FitResult", "train", "resolve_device", "load_data"]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_DIR = "checkpoints"


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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' was asked for but torch sees no CUDA device; use 'cpu' or 'auto'")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def load_data(cfg: dict, data_dir: str | None = None) -> tuple[ImageDataset, ImageDataset]:
    """The train and valid splits named by ``cfg["data"]`` (``num_train`` caps the train split)."""
    data_dir = data_dir or cfg.get("data_dir") or None
    train = load_dataset(cfg["data"], "train", data_dir, download=cfg.get("download", False))
    valid = load_dataset(cfg["data"], "valid", data_dir, download=cfg.get("download", False))
    return train.subset(cfg.get("num_train") or None), valid


def _describe_nonfinite(model, guide, x: torch.Tensor) -> str:
    """Name the sites whose log-probability is not finite, if any."""
    try:
        with torch.no_grad():
            model_trace, guide_trace = trace_pair(model, guide, x)
            bad = []
            for which, trace in (("model", model_trace), ("guide", guide_trace)):
                trace.compute_log_prob()
                for name, site in sample_sites(trace):
                    if not torch.isfinite(torch.as_tensor(site["log_prob"])).all():
                        bad.append(f"{which} site {name!r}")
                    elif torch.is_tensor(site["value"]) and site["value"].is_floating_point() and not torch.isfinite(site["value"]).all():
                        bad.append(f"{which} site {name!r} (value)")
        return "; non-finite log-probability at " + ", ".join(bad) if bad else ""
    except Exception as err:  # the model may itself fail on such values
        return f"; tracing to find the site failed too ({type(err).__name__}: {err})"


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
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg["lr"])
        self.epoch = 0
        self.step = 0
        self.best_valid_loss = math.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.metrics: list[dict] = []
        self.elbo = None

    # -- the objective -------------------------------------------------------------------
    def _objective(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Negative ELBO per image (a scalar), with the latent sites scaled by ``beta``."""
        model, guide = self.model.model, self.model.guide
        if beta < 1.0:
            model, guide = KLWarmup(beta)(model), KLWarmup(beta)(guide)
        autocast = self.cfg["precision"] == "bf16"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
            return self.elbo.differentiable_loss(model, guide, x) / x.shape[0]

    def _setup(self, x: torch.Tensor) -> None:
        nesting, _ = probe(self.model.model, self.model.guide, x[:2])
        self.elbo = make_elbo(self.cfg["elbo"], self.cfg["num_particles"], nesting)

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

    # -- checkpoints -----------------------------------------------------------------------
    def _checkpoint_path(self, epoch: int) -> Path:
        return self.run_dir / CHECKPOINT_DIR / f"epoch-{epoch:05d}.safetensors"

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
            "best_valid_loss": self.best_valid_loss if math.isfinite(self.best_valid_loss) else None,
            "metrics": self.metrics,
            "optimizer": opt_meta,
            "rng": rng_meta,
        }
        save_tensors(self._checkpoint_path(self.epoch), tensors, meta)
        folder = self.run_dir / CHECKPOINT_DIR
        old = sorted(folder.glob("epoch-*.safetensors"))[: -self.cfg["keep_checkpoints"]]
        for path in old:
            path.unlink(missing_ok=True)

    def latest_checkpoint(self) -> Path | None:
        folder = self.run_dir / CHECKPOINT_DIR
        found = sorted(folder.glob("epoch-*.safetensors")) if folder.is_dir() else []
        return found[-1] if found else None

    def load_checkpoint(self, path: Path) -> None:
        tensors, meta = load_tensors(path, device="cpu")
        try:
            state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
            self.model.load_state_dict(state)
            self.optimizer.load_state_dict(unflatten_optimizer_state(tensors, meta["optimizer"]))
            best = {k[5:]: v.to(self.device) for k, v in tensors.items() if k.startswith("best.")}
            self.best_state = best or None
            self.epoch, self.step = int(meta["epoch"]), int(meta["step"])
            bv = meta["best_valid_loss"]
            self.best_valid_loss = math.inf if bv is None else float(bv)
            self.metrics = list(meta["metrics"])
            set_rng_state(tensors, meta["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(f"{path}: not a pgm training checkpoint for this model ({err})") from None

    def _write_metrics(self) -> None:
        text = "".join(json.dumps(m) + "\n" for m in self.metrics)
        atomic_write_text(self.run_dir / METRICS_FILE, text)

    # -- the loop -----------------------------------------------------------------------
    def fit(self, train_x: torch.Tensor, valid_x: torch.Tensor | None = None, progress: bool = True) -> FitResult:
        cfg = self.cfg
        self.model.check_data(train_x, "train data")
        if valid_x is not None:
            self.model.check_data(valid_x, "valid data")
        train_x = train_x.to(self.device).float()
        valid_x = None if valid_x is None else valid_x.to(self.device).float()
        if self.elbo is None:
            self._setup(train_x)
        n, bs = train_x.shape[0], cfg["batch_size"]
        steps_per_epoch = math.ceil(n / bs)
        warmup_steps = cfg["kl_warmup_epochs"] * steps_per_epoch
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
            while self.epoch < cfg["epochs"]:
                started, total = time.perf_counter(), 0.0
                # the data order is a pure function of (seed, epoch): nothing to save for it
                order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg["seed"] * 100_003 + self.epoch))
                order = order.to(self.device)
                for i in range(steps_per_epoch):
                    xb = train_x[order[i * bs : (i + 1) * bs]]
                    beta = kl_weight(self.step, warmup_steps)
                    loss = self._objective(xb, beta)
                    self._guard(loss, xb, "loss")
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self._guard_gradients(xb)
                    if cfg["grad_clip"] > 0:
                        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg["grad_clip"])
                    self.optimizer.step()
                    self.step += 1
                    value = float(loss.detach())
                    total += value * xb.shape[0]
                    bar.update(1)
                    bar.set_postfix(epoch=self.epoch + 1, loss=f"{value:.3f}")
                seconds = time.perf_counter() - started
                record: dict[str, Any] = {
                    "epoch": self.epoch + 1,
                    "step": self.step,
                    "train_loss": total / n,
                    "kl_weight": kl_weight(self.step - 1, warmup_steps),
                    "seconds": seconds,
                    "images_per_second": n / seconds if seconds > 0 else None,
                }
                if valid_x is not None:
                    vl = self.valid_loss(valid_x)
                    record["valid_loss"] = vl
                    if vl < self.best_valid_loss:
                        self.best_valid_loss = vl
                        self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    record["best_valid_loss"] = self.best_valid_loss
                self.metrics.append(record)
                self.epoch += 1
                if self.run_dir is not None:
                    if self.epoch % cfg["checkpoint_every"] == 0 or self.epoch == cfg["epochs"]:
                        self.save_checkpoint()
                    self._write_metrics()
        finally:
            bar.close()
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        if self.run_dir is not None:
            save_weights(self.run_dir / WEIGHTS_FILE, self.model, {"config": cfg})
        self.model.eval()
        return FitResult(self.model, cfg, self.run_dir, self.metrics, self.best_valid_loss)

    def _guard(self, loss: torch.Tensor, xb: torch.Tensor, what: str) -> None:
        if not torch.isfinite(loss):
            where = _describe_nonfinite(self.model.model, self.model.guide, xb)
            raise NonFiniteLossError(
                f"step {self.step + 1} (epoch {self.epoch + 1}): the {what} is {float(loss)}{where}; "
                "training stopped, the last checkpoint is untouched (try a lower lr or grad_clip)"
            )

    def _guard_gradients(self, xb: torch.Tensor) -> None:
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if grads and not torch.isfinite(torch.stack([g.abs().sum() for g in grads]).sum()):
            names = [n for n, p in self.model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
            where = _describe_nonfinite(self.model.model, self.model.guide, xb)
            raise NonFiniteLossError(
                f"step {self.step + 1} (epoch {self.epoch + 1}): non-finite gradient for "
                f"{', '.join(names[:3])}{where}; training stopped, the last checkpoint is untouched"
            )


def _same_config(saved: dict, given: dict) -> list[str]:
    return sorted(k for k in set(saved) | set(given) if k != "epochs" and saved.get(k) != given.get(k))


def train(
    config: dict,
    run_dir: str | Path | None = None,
    resume: bool = False,
    data_dir: str | None = None,
    progress: bool = True,
    data: tuple[ImageDataset, ImageDataset] | None = None,
) -> FitResult:
    """Train the model a config describes on its data; write the run into ``run_dir``.

    ``run_dir`` gets ``config.json`` (the resolved config), ``metrics.jsonl`` (one JSON line per
    epoch), ``checkpoints/`` and, at the end, ``model.safetensors`` (the best weights on the
    valid split). With ``resume=True`` training continues from the last checkpoint and ends
    with exactly the weights an uninterrupted run would have had.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"config: expected a table of settings; found {type(config).__name__}")
    if data is None:
        data_cfg = {"data": "digits", "num_train": 0, "download": False, **config}
        pgm.DATASETS.check(data_cfg["data"], "data")
        train_ds, valid_ds = load_data(data_cfg, data_dir)
    else:
        train_ds, valid_ds = data
    cfg = resolve_config(config, image_shape=list(train_ds.image_shape), num_levels=train_ds.num_levels)
    run = Path(run_dir) if run_dir is not None else None
    if run is not None:
        config_path = run / CONFIG_FILE
        if resume:
            if not config_path.is_file():
                raise ConfigError(f"--resume: {run} holds no run to resume (no {CONFIG_FILE}); drop --resume to start one")
            saved = json.loads(config_path.read_text())
            differ = _same_config(saved, cfg)
            if differ:
                raise ConfigError(f"--resume: the config differs from the saved run's in {differ}; resume with the same config")
        elif config_path.exists() or (run / CHECKPOINT_DIR).exists():
            raise ConfigError(f"--out: {run} already holds a run; pass --resume to continue it, or choose a new folder")
    seed_everything(cfg["seed"])
    model = pgm.build(cfg)
    trainer = Trainer(cfg, model, run)
    if run is not None:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run / CONFIG_FILE, json.dumps(cfg, indent=2) + "\n")
        if resume:
            latest = trainer.latest_checkpoint()
            if latest is not None:
                trainer.load_checkpoint(latest)
    return trainer.fit(train_ds.float_images(), valid_ds.float_images(), progress=progress)


def fit_model(model: pgm.GenerativeModel, train_x: torch.Tensor, valid_x: torch.Tensor | None = None, **settings) -> FitResult:
    """Train an already-built model on tensors, in memory (no run folder); ``settings`` are
    training keys (``epochs``, ``lr``, ``elbo``...)."""
    cfg = copy.deepcopy(settings)
    cfg.update({k: v for k, v in model.config.items() if k not in cfg})
    cfg.setdefault("image_shape", list(model.event_shape))
    cfg.setdefault("num_levels", model.num_levels)
    cfg = resolve_config(cfg)
    return Trainer(cfg, model).fit(train_x, valid_x, progress=False)
