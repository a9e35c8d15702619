"""``pgm suite``: train the standard set of models on one dataset and compare them."""

from __future__ import annotations

import copy
import time
from importlib import resources
from pathlib import Path

from inference import train
from inference.config import load_config
from pgm.data import load_dataset

__all__ = ["BUDGETS", "CONVERGE_MAX_EPOCHS", "CONVERGE_PATIENCE", "run_suite", "suite_models"]

#: ``fixed``: each model's epochs from suite.toml (the whole suite in minutes, not converged);
#: ``converge``: early stopping — train until the validation loss has not improved for
#: ``CONVERGE_PATIENCE`` epochs (at most ``CONVERGE_MAX_EPOCHS``), keeping the best epoch.
BUDGETS = ("fixed", "converge")
CONVERGE_MAX_EPOCHS = 500
CONVERGE_PATIENCE = 10


def suite_models() -> dict[str, dict]:
    """The suite's models, ``{name: config}``, from ``evaluation/suite.toml``."""
    path = resources.files("evaluation") / "suite.toml"
    with resources.as_file(path) as p:
        return load_config(p)["models"]


def run_suite(
    out: str | Path,
    data: str = "digits",
    data_dir: str | None = None,
    num_particles: int = 500,
    models: list[str] | None = None,
    epochs_scale: float = 1.0,
    device: str = "auto",
    progress: bool = True,
    log=print,
    budget: str = "fixed",
) -> dict:
    """Train each suite model on ``data`` into ``out/runs/<name>``, then compare them on the
    test split; returns the results (also in ``out/results.json``). ``budget`` is one of
    :data:`BUDGETS`."""
    from .compare import compare_runs

    if budget not in BUDGETS:
        raise ValueError(f"--budget: expected one of {', '.join(BUDGETS)}; found {budget!r}")
    out = Path(out)
    table = suite_models()
    chosen = models or list(table)
    unknown = [m for m in chosen if m not in table]
    if unknown:
        raise ValueError(f"--models: unknown suite model(s) {unknown}; expected some of {', '.join(table)}")
    train_ds = load_dataset(data, "train", data_dir)
    valid_ds = load_dataset(data, "valid", data_dir)
    runs = []
    started = time.perf_counter()
    for i, name in enumerate(chosen, 1):
        cfg = copy.deepcopy(table[name])
        cfg["data"] = data
        cfg["device"] = device
        if budget == "converge":
            cfg["epochs"] = max(1, round(CONVERGE_MAX_EPOCHS * epochs_scale))
            cfg["patience"] = CONVERGE_PATIENCE
        else:
            cfg["epochs"] = max(1, round(cfg.get("epochs", 10) * epochs_scale))
        run_dir = out / "runs" / name
        resume = (run_dir / "config.json").exists()
        t0 = time.perf_counter()
        if resume and (run_dir / "model.safetensors").exists():
            log(f"[{i}/{len(chosen)}] {name}: already trained in {run_dir}, kept")
        else:
            until = f"until {CONVERGE_PATIENCE} epochs bring no better validation loss (at most {cfg['epochs']})" if budget == "converge" else f"{cfg['epochs']} epochs"
            log(f"[{i}/{len(chosen)}] {name}: training {until} on {data}")
            train(cfg, run_dir, resume=resume, data_dir=data_dir, progress=progress, data=(train_ds, valid_ds))
            log(f"    done in {time.perf_counter() - t0:.1f} s")
        runs.append(run_dir)
    log(f"trained {len(runs)} models in {time.perf_counter() - started:.1f} s; evaluating on the test split")
    return compare_runs(runs, out, num_particles=num_particles, data_dir=data_dir, progress=progress)
