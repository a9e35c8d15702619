"""Reading a finished run folder back: its config and its model."""

from __future__ import annotations

import json
from pathlib import Path

import pgm

from .checkpoint import CheckpointError, load_weights
from .config import ConfigError
from .trainer import CONFIG_FILE, WEIGHTS_FILE, resolve_device

__all__ = ["load_run", "read_metrics"]


def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[pgm.GenerativeModel, dict]:
    """``(model, config)`` of a run written by ``pgm train``; the model is in eval mode."""
    run = Path(run_dir)
    if not run.is_dir():
        found = "a file" if run.exists() else "no such folder"
        raise ConfigError(f"run: expected a run folder written by `pgm train`; found {found}: {run}")
    config_path = run / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"run: expected {config_path} (a folder written by `pgm train CONFIG --out {run}`); found none")
    try:
        cfg = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"run: expected JSON in {config_path}; found a corrupted file ({err})") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"run: expected a JSON object in {config_path}; found {type(cfg).__name__}")
    weights = run / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(
            f"run: expected {weights}; found none (training did not finish: continue it with "
            f"`pgm train --out {run} --resume`)"
        )
    model = pgm.build(cfg)
    load_weights(weights, model)
    return model.to(resolve_device(device)).eval(), cfg


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
