"""Reading a finished run folder back: its config and its model."""

from __future__ import annotations

import json
from pathlib import Path

import pgm

from .checkpoint import CheckpointError, load_weights
from .config import ConfigError
from .trainer import CONFIG_FILE, WEIGHTS_FILE

__all__ = ["load_run", "read_metrics"]


def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[pgm.GenerativeModel, dict]:
    """``(model, config)`` of a run written by ``pgm train``; the model is in eval mode."""
    run = Path(run_dir)
    if not run.is_dir():
        raise ConfigError(f"run: folder not found: {run}")
    config_path = run / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"run: {run} is not a pgm run (no {CONFIG_FILE}); train one with `pgm train CONFIG --out {run}`")
    try:
        cfg = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"run: {config_path} is corrupted ({err})") from None
    weights = run / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(
            f"run: {run} has no {WEIGHTS_FILE} (training did not finish); continue it with "
            f"`pgm train CONFIG --out {run} --resume`"
        )
    model = pgm.build(cfg)
    load_weights(weights, model)
    return model.to(device).eval(), cfg


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
