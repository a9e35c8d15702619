"""``pgm suite``: train the standard set of models on one dataset and compare them."""

from __future__ import annotations

import copy
import time
from importlib import resources
from pathlib import Path

from inference import train
from inference.config import load_config
from pgm.data import load_dataset
from pgm.errors import PgmError

__all__ = ["run_suite", "suite_models"]


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
    extra_runs: list[str | Path] | None = None,
) -> dict:
    """Train each suite model on ``data`` into ``out/runs/<name>``, then compare them, and the
    already-trained ``extra_runs`` (a plug-in model, say; trained on the same data), on the
    test split; returns the results (also in ``out/results.json``)."""
    from .compare import compare_runs

    out = Path(out)
    table = suite_models()
    extra = [Path(r) for r in extra_runs or []]
    missing = [str(r) for r in extra if not (r / "config.json").is_file()]
    if missing:
        raise PgmError(f"--add: expected run folders written by `pgm train`; found no config.json in {', '.join(missing)}")
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
        cfg["epochs"] = max(1, round(cfg.get("epochs", 10) * epochs_scale))
        run_dir = out / "runs" / name
        resume = (run_dir / "config.json").exists()
        t0 = time.perf_counter()
        if resume and (run_dir / "model.safetensors").exists():
            log(f"[{i}/{len(chosen)}] {name}: already trained in {run_dir}, kept")
        else:
            log(f"[{i}/{len(chosen)}] {name}: training {cfg['epochs']} epochs on {data}")
            train(cfg, run_dir, resume=resume, data_dir=data_dir, progress=progress, data=(train_ds, valid_ds))
            log(f"    done in {time.perf_counter() - t0:.1f} s")
        runs.append(run_dir)
    log(f"trained {len(runs)} models in {time.perf_counter() - started:.1f} s; evaluating on the test split")
    return compare_runs([*runs, *extra], out, num_particles=num_particles, data_dir=data_dir, progress=progress)
