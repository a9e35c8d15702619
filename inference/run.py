"""A run: training a model from its config into a run folder (a new run, or a resumed one),
and reading a finished run back (its model, config and metrics).

:class:`Run` owns a run's lifecycle (:func:`train` makes and trains one): it checks everything
(config, data, run folder, the model/guide pair on a batch) before the folder is created; the
folder itself (:class:`~inference.run_folder.RunFolder`) is created, locked and, when a new run
fails before its first checkpoint, removed again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pgm
from pgm.data import ImageDataset, load_data
from pgm.errors import PgmTypeError
from pgm.memory import check_fits, format_bytes, parameter_bytes
from pgm.model_config import recorded_config
from pgm.run_plugins import check_records, use_plugins
from pgm.validation import short_repr, what_is

from .callback import Callback
from .checkpoint import CheckpointError, load_state, load_tensors
from .config import ConfigError, resolve_config, warn_initialisation
from .fingerprint import check_same_plugins, check_weights_config, data_identity
from .out_path import check_out_path
from .run_checkpoint import (
    CHECKPOINT_CHOICES,
    RunWeights,
    check_checkpoint_choice,
    read_checkpoint,
)
from .run_folder import RunFolder, read_json_object, read_run_text
from .trainer import FitResult, Trainer, resolve_device, seed_everything
from .weights_probe import check_valid_distributions

__all__ = ["Run", "check_memory", "load_run", "load_run_weights", "read_metrics", "train"]


class Run:
    """One training run's lifecycle, owned in one place: checked whole (config, data, run
    folder, memory, the model/guide pair on a batch) when made, before anything is written;
    :meth:`train` then creates and locks the folder (or resumes the run in it), trains, and
    writes the weights. A run that fails before its first checkpoint removes what it wrote.

    ``trainer_class`` changes how a step's loss is computed (:mod:`inference.distributed`), not
    the run's protocol; ``callbacks`` are added to the trainer's own.
    """

    def __init__(
        self,
        config: dict,
        run_dir: str | Path | None = None,
        resume: bool = False,
        data_dir: str | None = None,
        data: tuple[ImageDataset, ImageDataset] | None = None,
        trainer_class: type[Trainer] | None = None,
        callbacks: list[Callback] | None = None,
    ):
        if not isinstance(config, dict):
            raise ConfigError(
                f"config: expected a table of settings; found {type(config).__name__}"
            )
        use_plugins(config.get("plugins"))  # a plug-in may provide the dataset
        train_ds, valid_ds = _datasets(config, data_dir, data)
        self.config = resolve_config(
            config, image_shape=list(train_ds.image_shape), num_levels=train_ds.num_levels
        )
        self.resume = resume
        self.folder = RunFolder(check_out_path(run_dir)) if run_dir is not None else None
        continues = resume
        if self.folder is not None:
            continues = self.folder.check(self.config, resume)
            if resume and not continues:  # a requeued job's first start: fine, but said
                logging.getLogger("pgm").warning(
                    f"--resume: {self.folder.path} holds no run yet; training it from the start"
                )
        check_memory(self.config, train_ds)
        if not continues:
            warn_initialisation(self.config)  # a resumed run has long left its start
        seed_everything(self.config["seed"])
        self.trainer = (trainer_class or Trainer)(
            self.config,
            pgm.build(self.config),
            self.folder.path if self.folder else None,
            data_identity=data_identity(train_ds, valid_ds) if self.folder else None,
            callbacks=callbacks,
        )
        self.train_x, self.valid_x = train_ds.float_images(), valid_ds.float_images()
        self.trainer.prepare(self.train_x, self.valid_x)

    def train(
        self,
        progress: bool = True,
        max_epochs: int | None = None,
        time_budget: float | None = None,
        then: Callable[[FitResult], None] | None = None,
    ) -> FitResult:
        """Train (or continue) the run; see :func:`train`."""
        limits = {"max_epochs": max_epochs, "time_budget": time_budget, "progress": progress}
        if self.folder is None:
            result = self.trainer.fit(self.train_x, self.valid_x, **limits)
            if then is not None:
                then(result)
            return result
        with self.folder.open(self.config, self.resume) as resuming:
            if resuming:
                self.trainer.restore()
                self.folder.write_config(self.config)  # epochs grew: say so
            result = self.trainer.fit(self.train_x, self.valid_x, **limits)
            if then is not None:  # still the folder's one writer
                then(result)
            return result


def _datasets(config: dict, data_dir: str | None, data) -> tuple[ImageDataset, ImageDataset]:
    """The run's (train, valid) datasets: ``data`` when given, else the config's."""
    if data is None:
        return load_data(config, data_dir)
    if (
        isinstance(data, (tuple, list))
        and len(data) == 2
        and all(isinstance(d, ImageDataset) for d in data)
    ):
        return data[0], data[1]
    raise PgmTypeError(
        "data: expected a pair (train, valid) of pgm.data.ImageDataset; found "
        f"{type(data).__name__}"
    )


def train(
    config: dict,
    run_dir: str | Path | None = None,
    resume: bool = False,
    data_dir: str | None = None,
    progress: bool = True,
    data: tuple[ImageDataset, ImageDataset] | None = None,
    trainer_class: type[Trainer] | None = None,
    max_epochs: int | None = None,
    time_budget: float | None = None,
    callbacks: list[Callback] | None = None,
    then: Callable[[FitResult], None] | None = None,
) -> FitResult:
    """Train the model a config describes on its data; write the run into ``run_dir``.

    ``max_epochs`` (epochs in all) and ``time_budget`` (seconds) limit this call only; a run
    they cut short ends at an epoch boundary with a checkpoint and its best weights so far, and
    ``resume=True`` continues it (see :meth:`Trainer.fit`).

    ``run_dir`` gets ``config.json`` (the resolved config), ``metrics.jsonl`` (one JSON line per
    epoch), ``checkpoints/`` and, at the end, ``model.safetensors`` (the best weights on the
    valid split). With ``resume=True`` training continues from the last checkpoint and ends
    with exactly the weights an uninterrupted run would have had (a folder holding nothing yet,
    as after a kill at the very start, starts the run).

    Everything is checked (config, data, run folder, the model/guide pair on a batch) before
    the folder is created; a run that fails before its first checkpoint removes what it wrote.

    ``then(result)`` is called once training stops, while the run folder is still locked (no
    other process can resume or score it in between): ``pgm reproduce`` scores the row there.
    """
    run = Run(config, run_dir, resume, data_dir, data, trainer_class, callbacks)
    return run.train(progress=progress, max_epochs=max_epochs, time_budget=time_budget, then=then)


def check_memory(cfg: dict, data: ImageDataset) -> None:
    """Refuse, before anything is allocated, a model or a batch that cannot fit in memory."""
    # weights, gradients, Adam's two moments, the best weights so far, a checkpoint's copy
    check_model_memory(cfg, 6)
    # a lower bound: each of the batch's particles holds an image-sized float tensor or more
    # (a batch holds at most the whole training split)
    batch = min(cfg["batch_size"], max(len(data), 1))
    per_step = 4 * 4 * batch * cfg["num_particles"] * data.num_dims
    check_fits(
        per_step,
        "batch_size/num_particles",
        f"{cfg['num_particles']:,} particles x batch_size {cfg['batch_size']:,}",
    )


def check_model_memory(cfg: dict, copies: int) -> None:
    """Refuse, before it is built, a model whose ``copies`` copies of its parameters cannot fit
    in memory, naming the sizes the config sets (a run folder's config.json may set any)."""
    params = parameter_bytes(pgm.build, cfg)
    # the sizes the config sets (hidden_dims, when given, replaces hidden_dim)
    keys = [k for k in ("hidden_dims", "hidden_dim", "latent_dim_top", "latent_dim") if k in cfg]
    if cfg.get("hidden_dims") is not None and "hidden_dim" in keys:
        keys.remove("hidden_dim")
    shown = [k for k in keys if isinstance(cfg[k], int | list)]
    sizes = ", ".join(
        f"{k} = {cfg[k]:,}" if isinstance(cfg[k], int) else f"{k} = {cfg[k]}" for k in shown
    )
    check_fits(
        copies * params,
        "/".join(shown) or "model",
        f"a model of {format_bytes(params)} of parameters ({sizes})",
    )


def load_run(
    run_dir: str | Path, device: str = "cpu", checkpoint: str | None = None
) -> tuple[pgm.GenerativeModel, dict]:
    """``(model, config)`` of a run written by ``pgm train``; the model is in eval mode.

    The weights are ``model.safetensors`` (written when training ends), or, for a run still
    training, those of its newest checkpoint: ``checkpoint="best"`` takes the best validation
    epoch's weights so far (refused when no validation epoch has run yet), ``"last"`` the
    current ones (:mod:`inference.run_checkpoint`; :func:`load_run_weights` says which).

    A ``config.json`` that differs from the config the weights record (but for session keys,
    and ``epochs``, which a resume may have grown) is refused, naming the keys; a run trained
    with a plug-in loads only once that plug-in was named (``--plugin``); nothing in the run
    folder is imported or unpickled."""
    model, cfg, _ = load_run_weights(run_dir, device, checkpoint)
    return model, cfg


def load_run_weights(
    run_dir: str | Path, device: str = "cpu", checkpoint: str | None = None
) -> tuple[pgm.GenerativeModel, dict, RunWeights]:
    """:func:`load_run`, and what weights it loaded (:class:`RunWeights`: the file, and for a
    checkpoint which weights of which epoch)."""
    check_checkpoint_choice(checkpoint)
    run = Path(run_dir)
    if not run.is_dir():
        found = what_is(run) if run.exists() else "no such folder"
        raise ConfigError(
            f"run: expected a run folder written by `pgm train`; found {found}: {run}"
        )
    config_path = RunFolder(run).config
    if not config_path.is_file():
        found = what_is(config_path) if config_path.exists() else "none"
        raise ConfigError(
            f"run: expected {config_path} (a folder written by `pgm train CONFIG --out {run}`); "
            f"found {found}"
        )
    # model keys added to pgm since the run was recorded: what the run was trained with
    cfg = recorded_config(read_json_object(config_path, "run"))
    if not isinstance(cfg.get("model"), str):  # pgm records it always: a hand edit
        found = "none" if "model" not in cfg else short_repr(cfg["model"])
        raise ConfigError(
            f"run: expected {config_path} to name its model (as pgm records it); found {found}"
        )
    if checkpoint is None:
        weights = RunFolder(run).weights
        if weights.exists() and not weights.is_file():  # a folder, a FIFO: not "not finished"
            raise CheckpointError(
                f"run: expected {weights} to be a file of weights; found {what_is(weights)}"
            )
        if not weights.is_file():
            raise CheckpointError(
                f"run: expected {weights}; found none (training did not finish: continue it "
                f"with `pgm train --out {run} --resume`; `pgm evaluate` and `pgm sample` read its "
                "best weights so far with --checkpoint best)"
            )
        state, meta = load_tensors(weights)
        source = RunWeights(weights)
    else:
        state, meta, source = read_checkpoint(run, checkpoint)
    # the weights record the config they were trained with: an edited config.json would
    # build another model (another activation, say) and score it with these weights, or name
    # other plug-ins. Plug-in records are checked against what the user named and never
    # imported (pgm.run_plugins); keys the model never reads (pgm 0.1 recorded them) are not
    # compared.
    hint = f" (config.json was edited; restore it in {run})"
    if isinstance(meta.get("config"), dict):
        check_same_plugins(meta["config"], cfg, str(source.path), hint)
    check_records(cfg.get("plugins"), "run", f"run {run}")
    if isinstance(meta.get("config"), dict):
        check_weights_config(meta["config"], cfg, "run", str(source.path), hint)
    check_model_memory(cfg, 2)  # the model, and a fresh one if the probe below needs it
    model = pgm.build(cfg)
    prefix = CHECKPOINT_CHOICES[source.checkpoint] if source.checkpoint else ""
    load_state(state, model, source.path, prefix)
    check_valid_distributions(model, source.path, lambda: pgm.build(cfg))
    return model.to(resolve_device(device)).eval(), cfg, source


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The run's ``metrics.jsonl``, one dict per epoch; a corrupted file is refused by name."""
    path = RunFolder(run_dir).metrics
    if not path.exists():  # a FIFO or folder is refused by read_run_text, not taken as none
        return []
    rows = []
    try:
        lines = read_run_text(path, "run").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"run: expected a readable UTF-8 {path}; found it unreadable ({err})"
        ) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as err:
            reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
            raise ConfigError(
                f"run: expected one JSON object per line in {path}; found line {number} "
                f"corrupted ({reason})"
            ) from None
        if not isinstance(row, dict):
            raise ConfigError(
                f"run: expected one JSON object per line in {path}; found "
                f"{type(row).__name__} on line {number}"
            )
        rows.append(row)
    return rows
