"""Reading a finished run folder back: its config and its model."""

from __future__ import annotations

import json
from pathlib import Path

import pgm

from .checkpoint import CheckpointError, load_weights
from .config import ConfigError
from .run_config import read_json_object
from .trainer import CONFIG_FILE, WEIGHTS_FILE, resolve_device

__all__ = ["load_run", "read_metrics"]


def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[pgm.GenerativeModel, dict]:
    """``(model, config)`` of a run written by ``pgm train``; the model is in eval mode."""
    run = Path(run_dir)
    if not run.is_dir():
        found = "a file" if run.exists() else "no such folder"
        raise ConfigError(
            f"run: expected a run folder written by `pgm train`; found {found}: {run}"
        )
    config_path = run / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(
            f"run: expected {config_path} (a folder written by `pgm train CONFIG --out {run}`); found none"
        )
    cfg = read_json_object(config_path, "run")
    weights = run / WEIGHTS_FILE
    if weights.is_dir():
        raise CheckpointError(f"run: expected {weights} to be a file of weights; found a folder")
    if not weights.is_file():
        raise CheckpointError(
            f"run: expected {weights}; found none (training did not finish: continue it with "
            f"`pgm train --out {run} --resume`)"
        )
    model = pgm.build(cfg)
    load_weights(weights, model)
    return model.to(resolve_device(device)).eval(), cfg


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The run's ``metrics.jsonl``, one dict per epoch; a corrupted file is refused by name."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    try:
        lines = path.read_text().splitlines()
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
                f"run: expected one JSON object per line in {path}; found line {number} corrupted ({reason})"
            ) from None
        if not isinstance(row, dict):
            raise ConfigError(
                f"run: expected one JSON object per line in {path}; found {type(row).__name__} on line {number}"
            )
        rows.append(row)
    return rows
