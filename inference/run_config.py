"""The ``train`` command, one for ``pgm train`` and the torchrun entry point: the config it runs
(a TOML or JSON file plus ``--set``; with ``--resume`` and no file, the run's own
``config.json``; with ``--from RUN``, that run's config less its session keys),
the training, and the one-line JSON summary; both refuse the same inputs with the same
one-line messages."""

from __future__ import annotations

from pathlib import Path

from pgm.model_config import read_keys
from pgm.plugins import name_plugins
from pgm.run_plugins import recorded

from .checkpoint import CheckpointError
from .config import ConfigError, _not_a_file, load_config, parse_overrides
from .run_folder import RunFolder, read_json_object

__all__ = ["read_json_object", "run_template", "train_command", "train_config"]


def run_template(run: str | Path) -> dict:
    """The config that trains ``run`` again (``pgm train --from RUN``): its ``config.json``
    without the session keys (device, data_dir, logger, ...), which the new run takes from its
    own command line. Recorded plug-ins stay: loading them is the plug-in checks' decision."""
    from .fingerprint import SESSION_KEYS

    saved = RunFolder(run).config
    if not Path(run).is_dir() or not saved.is_file():
        raise ConfigError(
            f"--from: expected a run folder written by `pgm train` (holding config.json); "
            f"found {'no such folder' if not Path(run).exists() else 'no ' + str(saved)}: {run}"
        )
    cfg = read_json_object(saved, "--from")
    _check_weights_config(Path(run), cfg, "--from")
    # keys an older pgm recorded that the model does not read are records, not the user's
    # choice: left out silently, not warned about as "does not apply"
    return {k: v for k, v in read_keys(cfg).items() if k not in SESSION_KEYS}


def _check_weights_config(run: Path, cfg: dict, flag: str) -> None:
    """Refuse a ``config.json`` edited since its weights were written (as loading the run
    does): ``--from`` would train another model than the run's (``encoder_input`` added to a
    run that predates it, say) under its name, and ``--resume`` would blame the config given
    for differing from the edit. Checked against the run's newest checkpoint or its weights; a
    run with neither (killed before its first epoch) is not checked."""
    from pgm.model_config import recorded_config

    from .fingerprint import check_weights_config

    found = _recorded_meta(run)
    if found is not None and isinstance(found[1].get("config"), dict):
        hint = f" (config.json was edited; restore it in {run})"
        check_weights_config(found[1]["config"], recorded_config(cfg), flag, str(found[0]), hint)


def _recorded_meta(run: Path) -> tuple[Path, dict] | None:
    """``(file, metadata)`` of what ``run`` recorded with its weights: its newest checkpoint's,
    else ``model.safetensors``'s, read without the tensors; None when it has neither. An
    unreadable file is refused (naming an older checkpoint to move to), never skipped: the
    config it would have checked is then not the run's."""
    from .checkpoint import CheckpointError, read_metadata
    from .checkpoint_meta import sorted_checkpoints
    from .trainer_state import with_older_checkpoint

    folder = RunFolder(run)
    newest = sorted_checkpoints(folder.checkpoints)[-1:]
    for path in newest or ([folder.weights] if folder.weights.exists() else []):
        try:
            return path, read_metadata(path)
        except CheckpointError as err:
            raise with_older_checkpoint(err, path) from None
    return None


def _check_recorded_plugins(run: Path, cfg: dict) -> None:
    """Before any advice to pass a plug-in: the plug-ins of ``run``'s ``config.json`` are those
    its newest checkpoint (or its weights) recorded, read from metadata alone. An edited
    ``config.json`` would otherwise have the user name (and so run) a module it planted."""
    from .fingerprint import check_same_plugins

    found = _recorded_meta(run)
    if found is not None and isinstance(found[1].get("config"), dict):
        hint = f" (config.json was edited; restore it in {run})"
        check_same_plugins(found[1]["config"], cfg, str(found[0]), hint)


def _read_config(config: str) -> dict:
    """A TOML config file, or a JSON one (a run's ``config.json``, say)."""
    if Path(config).suffix.lower() == ".json":
        if not Path(config).is_file():
            found = _not_a_file(Path(config))
            raise ConfigError(f"config: expected a JSON config file; found {found}: {config}")
        return read_json_object(config, "config")
    return load_config(config)


def train_config(
    config: str | None,
    out: str | Path,
    resume: bool,
    sets: list[str],
    from_run: str | Path | None = None,
) -> dict:
    """The config file (or, on ``--resume`` without one, ``OUT/config.json``; with
    ``from_run``, that run's config less its session keys) with the ``--set KEY=VALUE``
    overrides applied."""
    overrides = parse_overrides(sets)
    if from_run is not None:
        if config is not None or resume:
            given = f"a config ({config})" if config is not None else "--resume"
            raise ConfigError(
                f"--from: expected a run to train again as a new run (--out); found {given} too"
            )
        cfg = run_template(from_run)
    elif config is not None:
        cfg = _read_config(config)
        if isinstance(cfg.get("paper"), dict):
            row = Path(config).stem
            raise ConfigError(
                f"config: expected a training config; found {config}, a paper recipe (its "
                f"[paper] table is not a training key): run it with `pgm reproduce {row} --out DIR`"
            )
    elif resume:
        saved = RunFolder(out).config
        if not saved.is_file():
            raise ConfigError(
                f"config: expected a TOML file, or --resume with a run folder holding config.json; "
                f"found neither ({saved} does not exist)"
            )
        cfg = read_json_object(saved, "--resume")
        recorded(cfg.get("plugins"), f"--resume ({saved})")  # records only: they name no code
        _check_recorded_plugins(Path(out), cfg)
        cfg = read_keys(cfg)  # as --from: an older pgm's records, left out silently
    else:
        raise ConfigError(
            "config: expected a TOML config file (it may be left out only with --resume); "
            "found none"
        )
    if resume and RunFolder(out).config.is_file():
        # config.json against the weights first: an edit is the run's, not the config given
        saved = read_json_object(RunFolder(out).config, "--resume")
        try:
            _check_weights_config(Path(out), saved, "--resume")
        except (CheckpointError, OSError):
            # not readable now: rotated away by a process training the run (whose lock then
            # refuses this one), or damaged, which the resume itself names under the lock
            pass
    cfg.update(overrides)
    return cfg


def train_command(
    config: str | None,
    out: str | Path,
    *,
    resume: bool = False,
    sets: list[str] | None = None,
    plugins: list[str] | None = None,
    data_dir: str | None = None,
    progress: bool = True,
    distributed: bool = False,
    from_run: str | Path | None = None,
) -> dict | None:
    """Train the run a command line names (``pgm train``, ``torchrun -m pgm_cli.torchrun``);
    returns the summary it prints as one JSON line, ``{"run", "epochs", "train_loss",
    "best_valid_loss"}``, or None where there is nothing to report (a torchrun rank but 0, a
    run that had no epoch left). ``plugins`` (``--plugin``) are recorded in the run's
    ``config.json``, so later commands load them themselves."""
    cfg = train_config(config, out, resume, sets or [], from_run)
    if plugins:  # typed on a command line: relative paths are the working directory's
        cfg["plugins"] = [*(cfg.get("plugins") or []), *name_plugins(plugins, "--plugin")]
    settings = {"resume": resume, "data_dir": data_dir, "progress": progress}
    if distributed:
        from .distributed import train_distributed  # torch.distributed only when asked for

        result = train_distributed(cfg, out, **settings)
    else:
        from .run import train

        result = train(cfg, out, **settings)
    if result is None or not result.metrics:
        return None
    last = result.metrics[-1]
    return {
        "run": str(out),
        "epochs": last["epoch"],
        "train_loss": last["train_loss"],
        "best_valid_loss": result.best_valid_loss,
    }
