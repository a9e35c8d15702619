"""``pgm suite``: train the standard set of models on one dataset and compare them."""

from __future__ import annotations

import copy
import time
from importlib import resources
from pathlib import Path

from inference import load_run, train
from inference.checkpoint import load_tensors
from inference.config import load_config, resolve_config
from inference.fingerprint import check_same_run, data_identity
from inference.run_config import read_json_object
from pgm.data import load_dataset
from pgm.errors import PgmError
from pgm.validation import check_unique

from .replicates import unique_name

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


def _check_finished(run_dir: Path, cfg: dict, train_ds, valid_ds) -> bool:
    """Whether the finished run in ``run_dir`` is what the suite asks for now (True), or the
    same run with fewer epochs, to be resumed (False); another config or other data (another
    ``--epochs-scale`` that shrinks it, ``--data``...) is refused, naming the differing keys."""
    resolved = resolve_config(
        cfg, image_shape=list(train_ds.image_shape), num_levels=train_ds.num_levels
    )
    weights = run_dir / "model.safetensors"
    _, meta = load_tensors(weights)
    recorded = meta if isinstance(meta.get("config"), dict) else {"config": _saved_config(run_dir)}
    check_same_run(
        recorded,
        resolved,
        data_identity(train_ds, valid_ds),
        "--out",
        str(weights),
        f" (remove {run_dir} to train it again, or choose another --out)",
    )
    return recorded["config"] is None or recorded["config"].get("epochs") == resolved["epochs"]


def _saved_config(run_dir: Path) -> dict:
    return read_json_object(run_dir / "config.json", "--out")


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
    budget: str = "fixed",
    seeds: int = 1,
    jobs: int = 1,
    executor: str = "local",
) -> dict:
    """Train each suite model on ``data`` into ``out/runs/<name>``, then compare them, and the
    already-trained ``extra_runs`` (a plug-in model, say; trained on the same data), on the
    test split; returns the results (also in ``out/results.json``). ``budget`` is one of
    :data:`BUDGETS`. ``seeds``: each model trained with seeds 0..N-1 (``out/runs/<name>-seed<S>``
    beyond seed 0); ``jobs``/``executor``: how the runs are trained (:mod:`.suite_grid`)."""
    from .compare import compare_runs
    from .suite_grid import TrainTask, check_grid_options, run_dir_name, train_grid

    check_grid_options(seeds, jobs, executor)

    chosen, extra = _checked_inputs(budget, epochs_scale, extra_runs, models, data)
    table = suite_models()
    out = Path(out)
    train_ds = load_dataset(data, "train", data_dir)
    valid_ds = load_dataset(data, "valid", data_dir)
    grid = [(name, s) for name in chosen for s in range(seeds)]
    runs = []
    # with several seeds every run is named by its seed in the report (seed 0's folder keeps
    # its name from before seeds): "vae" is then the model over its seeds, not one network
    names: list[str | None] = [f"{m}-seed{s}" if seeds > 1 else None for m, s in grid]
    pending: list = []  # the runs of the models x seeds grid still to train
    started = time.perf_counter()
    for i, (name, seed) in enumerate(grid, 1):
        cfg = _run_config(table[name], data, device, seed, budget, epochs_scale)
        folder = run_dir_name(name, seed)
        label = names[i - 1] or folder  # as the report names it (vae-seed0 with seeds)
        run_dir = out / "runs" / folder
        resume = (run_dir / "config.json").exists()
        runs.append(run_dir)
        if (
            resume
            and (run_dir / "model.safetensors").exists()
            and _check_finished(run_dir, cfg, train_ds, valid_ds)
        ):
            log(f"[{i}/{len(grid)}] {label}: already trained in {run_dir}, kept")
            continue
        if jobs > 1 or executor != "local":
            pending.append(TrainTask(label, cfg, run_dir, resume, data_dir))
            continue
        until = (
            f"until {CONVERGE_PATIENCE} epochs bring no better validation loss "
            f"(at most {cfg['epochs']})"
            if budget == "converge"
            else f"{cfg['epochs']} epochs"
        )
        log(f"[{i}/{len(grid)}] {label}: training {until} on {data}")
        t0 = time.perf_counter()
        train(
            cfg,
            run_dir,
            resume=resume,
            data_dir=data_dir,
            progress=progress,
            data=(train_ds, valid_ds),
        )
        log(f"    done in {time.perf_counter() - t0:.1f} s")
    if pending:
        train_grid(pending, jobs, executor, out / "jobs", log)
    log(
        f"{len(runs)} runs ready in {time.perf_counter() - started:.1f} s; "
        "evaluating on the test split"
    )
    return compare_runs(
        [*runs, *extra],
        out,
        num_particles=num_particles,
        data_dir=data_dir,
        progress=progress,
        names=[*names, *_added_names(extra, names)],
    )


def _added_names(extra: list[Path], names: list[str | None]) -> list[str | None]:
    """The ``--add`` runs' names in the report: their folders' (``None``), unless the suite
    names its own runs by seed and a folder is named like one of them or their model
    (``--add old/vae-seed0`` beside the suite's ``vae-seed0``; ``--add old/vae`` beside the
    model ``vae``): that run becomes ``vae-seed0#2`` (``vae#2``), not a refusal after the
    training, nor the suite's model renamed."""
    if not any(names):
        return [None] * len(extra)
    # the suite's runs, and its models over their seeds (vae-seed0, vae-seed1: vae)
    taken = set(names) | {n.rsplit("-seed", 1)[0] for n in names}
    out: list[str | None] = []
    for run in extra:
        name = unique_name(run.name or str(run), taken)
        taken.add(name)
        out.append(name)
    return out


#: the largest --epochs-scale (a 500-epoch budget becomes 500,000 epochs)
MAX_EPOCHS_SCALE = 1000


def _checked_inputs(budget, epochs_scale, extra_runs, models, data) -> tuple[list[str], list[Path]]:
    """The suite's arguments checked before any training: ``(models chosen, extra runs)``."""
    if budget not in BUDGETS:
        raise ValueError(f"--budget: expected one of {', '.join(BUDGETS)}; found {budget!r}")
    if (
        isinstance(epochs_scale, bool)
        or not isinstance(epochs_scale, int | float)
        or not (0 < epochs_scale <= MAX_EPOCHS_SCALE)
    ):  # 1e308 overflowed to an infinite epoch count (a traceback); 1e300 trained "forever"
        raise PgmError(
            f"--epochs-scale: expected a number > 0 and <= {MAX_EPOCHS_SCALE:g}; found "
            f"{epochs_scale!r}"
        )
    table = suite_models()
    # a model or run named twice was trained, then refused by the comparison
    check_unique(models or [], "--models", "each model")
    extra = [Path(r) for r in extra_runs or []]
    check_unique(map(str, extra), "--add", "each run folder", keys=[r.resolve() for r in extra])
    missing = [str(r) for r in extra if not (r / "config.json").is_file()]
    if missing:
        raise PgmError(
            "--add: expected run folders written by `pgm train`; "
            f"found no config.json in {', '.join(missing)}"
        )
    for run in extra:  # met before minutes of training, not after: a run of other data
        _, saved = load_run(run)  # (or one whose weights or plug-in are missing) is refused now
        if saved.get("data") != data:
            raise PgmError(
                f"--add: expected runs trained on the suite's data {data!r}; found {run} "
                f"trained on {saved.get('data')!r}"
            )
    chosen = models or list(table)
    unknown = [m for m in chosen if m not in table]
    if unknown:
        raise PgmError(
            f"--models: unknown suite model(s) {unknown}; expected some of {', '.join(table)}"
        )
    return chosen, extra


def _run_config(base: dict, data, device, seed: int, budget: str, epochs_scale) -> dict:
    """One run's config: the suite model's, on the suite's data, device, seed and budget."""
    cfg = copy.deepcopy(base)
    cfg["data"] = data
    cfg["device"] = device
    cfg["seed"] = seed  # recorded in the run's config: seeds are an axis of the comparison
    if budget == "converge":
        cfg["epochs"] = max(1, round(CONVERGE_MAX_EPOCHS * epochs_scale))
        cfg["early_stopping_patience"] = CONVERGE_PATIENCE
    else:
        cfg["epochs"] = max(1, round(cfg.get("epochs", 10) * epochs_scale))
    return cfg
