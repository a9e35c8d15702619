"""Paper reproduction: train each row of the literature table with its published recipe
(``pgm/configs/papers/ROW.toml``), evaluate it with the shared estimator under the papers' protocol,
and set the measured number beside the published one.

A recipe is a ``pgm train`` config plus a ``[paper]`` table (title, citation, the published
test log-likelihood in nats, the K of its evaluation, and whether it fits a CPU). Each row
trains into ``OUT/ROW`` (an ordinary run folder: ``pgm evaluate OUT/ROW`` works on it), writes
``OUT/ROW/reproduction.json``, and every call rewrites ``OUT/reproduction.{json,md,html}`` and
``OUT/figures/ROW-learning-curve.{png,svg}`` from the rows present, so rows trained by separate
processes, or carried on later with ``--resume``, end up in one table.

Protocol (Tomczak & Welling 2018; Burda et al. 2016): log p(x) by importance sampling with
K = 5000 per test image (exact, K = 1, for models without latents). Where the data file holds
no test split (it is held back), the validation split is used and every output says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .recipes import ROW_FILE, ROWS, Recipe, format_list, list_recipes, load_recipe, load_recipes
from .reproduction_table import (
    learning_curve_figure,
    read_rows,
    render_markdown,
    run_differences,
    write_table,
)

__all__ = [
    "ROWS",
    "Recipe",
    "format_list",
    "learning_curve_figure",
    "load_recipe",
    "load_recipes",
    "list_recipes",
    "render_markdown",
    "reproduce",
    "read_rows",
    "reproduce_row",
    "write_table",
]


# -- one row -----------------------------------------------------------------------------------
def _evaluation_split(cfg: dict, data_dir: str | None):
    """``(dataset, split, note)``: the test split when the data file has one, else valid."""
    from pgm.data import config_dataset

    try:
        return config_dataset(cfg, "test", data_dir), "test", ""
    except ValueError as err:
        if "has no array" not in str(err):  # the .npz lacks the split; anything else is an error
            raise
    note = (
        f"{cfg['data']} holds no test split here (held back): measured on the validation "
        "split, not on the papers' test split; that split also chose the weights kept (the best "
        "validation epoch) and the early stop, so its number leans optimistic"
    )
    return config_dataset(cfg, "valid", data_dir), "valid", note


def _recent_gain(curve: list, window: int = 10) -> float | None:
    """Mean change per epoch of the last ``window`` points of ``[[epoch, nats], ...]``."""
    tail = curve[-window:]
    if len(tail) < 2:
        return None
    return (tail[-1][1] - tail[0][1]) / (tail[-1][0] - tail[0][0])


def _device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"


def reproduce_row(
    recipe: Recipe,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    max_epochs: int | None = None,
    time_budget: float | None = None,
    resume: bool = False,
    num_particles: int = 5000,
    num_images: int | None = None,
    overrides: dict | None = None,
    progress: bool = True,
) -> dict:
    """Train ``recipe`` into ``out/ROW`` (``time_budget`` in seconds, for this call), evaluate
    it, write ``out/ROW/reproduction.json`` and return that row."""
    import torch

    from inference import train
    from inference.atomic_write import atomic_write_text
    from inference.trainer import resolve_device

    from .log_likelihood import estimate
    from .statistics import summarise_mean

    cfg = {**recipe.config, **(overrides or {})}
    if device is not None:
        cfg["device"] = device
    run = Path(out) / recipe.row
    began = time.perf_counter()
    scored: dict = {}

    def score(result) -> None:
        """The row scored and written while training still holds the run's lock: a second
        `--resume` of this row is refused meanwhile, and `--list --out` names this process."""
        trained = time.perf_counter() - began
        model, resolved = result.model, result.config
        data, split, note = _evaluation_split(resolved, data_dir)
        data = data.subset(num_images)
        torch.manual_seed(0)
        est = estimate(
            model,
            None,
            data.float_images().to(resolve_device(resolved["device"])),
            num_particles,
            progress=progress,
        )
        summary = summarise_mean(est.log_likelihood.double().numpy())
        row = _row(recipe, resolved, model, result, est, summary, split, note)
        # --set changes the recipe: the row says how, for the keys the run took (a key its
        # model does not read was warned about and left out; --data is told apart by name)
        row["overrides"] = {
            k: resolved[k]
            for k in sorted(overrides or {})
            if k != "data" and k in resolved and recipe.config.get(k) != resolved[k]
        }
        row["wall_seconds"] = time.perf_counter() - began
        row["session_train_seconds"] = trained
        atomic_write_text(run / ROW_FILE, json.dumps(row, indent=2) + "\n")
        scored.update(row)

    train(
        cfg,
        run,
        resume=resume,
        data_dir=data_dir,
        progress=progress,
        max_epochs=max_epochs,
        time_budget=time_budget,
        then=score,
    )
    return scored


def _row(recipe: Recipe, cfg: dict, model, result, est, summary, split: str, note: str) -> dict:
    """The row of ``reproduction.json``: what was published, what was measured, how it trained."""
    metrics = result.metrics
    curve = [[m["epoch"], -m["valid_loss"]] for m in metrics if m.get("valid_loss") is not None]
    stopped = result.stopped
    return {
        "row": recipe.row,
        "paper": recipe.paper.get("title", ""),
        "citation": recipe.paper.get("citation", ""),
        "recipe": str(recipe.path.name),
        "model": cfg["model"],
        "data": cfg["data"],
        "published_nats": recipe.published_nats,
        "measured_nats": summary.mean,
        "ci95": list(summary.ci95),
        "standard_error": summary.standard_error,
        "elbo_nats": float(est.elbo.double().mean()) if model.has_latents else None,
        "gap_nats": summary.mean - recipe.published_nats,
        "split": split,
        "split_note": note,
        "num_images": int(summary.n),
        "num_particles": est.num_particles,
        "epochs_run": len(metrics),
        "recipe_epochs": int(recipe.config.get("epochs", cfg["epochs"])),
        "best_epoch": max(
            (
                i + 1
                for i, m in enumerate(metrics)
                if m.get("valid_loss") is not None and m["valid_loss"] == result.best_valid_loss
            ),
            default=None,
        ),
        "stopped": stopped,
        "cut_short": stopped in ("max-epochs", "time-budget"),
        "train_seconds": float(sum(m.get("seconds") or 0.0 for m in metrics)),
        "device": _device_name(next(model.parameters()).device),
        "device_class": recipe.device_class,
        "valid_curve": curve,
        # how far from a plateau: the validation curve's mean gain per epoch over its last
        # (up to) 10 epochs, in nats (positive: still improving)
        "recent_gain_per_epoch": _recent_gain(curve),
        "curve_quantity": "validation -ELBO" if model.has_latents else "validation log-likelihood",
    }


def _check_resumable(recipes: list[Recipe], out: Path, overrides: dict) -> None:
    """Refuse ``--resume`` of a row whose run folder was trained otherwise than its recipe with
    this command's ``--set`` changes (the recipe changed since, or the changes differ)."""
    from inference.config import ConfigError
    from pgm.errors import PgmError

    for r in recipes:
        run = out / r.row
        if not (run / "config.json").exists() and not (run / "config.json").is_symlink():
            continue  # a new row, or one the trainer's own checks will refuse
        try:
            differences = run_differences(run, {**r.config, **overrides}, "this command", True)
        except PgmError as err:
            raise ConfigError(f"--resume: row {r.row}: {err}") from None
        if differences:
            raise ConfigError(
                f"--resume: expected row {r.row} ({run}) to continue as it trained; found "
                f"differences in {'; '.join(differences)} (its recipe changed since, or this "
                "command's --set differs: --set KEY=VALUE with the run's values continues it, or "
                "choose another --out)"
            )


def _no_more_training(row: dict, recipe: Recipe, settings: dict) -> str | None:
    """Why this command will not train ``row`` any further (its weights stay as scored), or
    None when it will: early stopping ended it, it has run the epochs this command plans (the
    recipe's, or ``--set epochs``), or ``--max-epochs``."""
    if row.get("stopped") == "early-stopping":
        return "was ended by early stopping"
    ran = row["epochs_run"]
    planned = {**recipe.config, **(settings.get("overrides") or {})}.get("epochs")
    if isinstance(planned, int) and ran >= planned:
        return f"has run the {_epochs(planned)} this command plans"
    limit = settings.get("max_epochs")
    if limit is not None and ran >= limit:
        return f"has run the {_epochs(limit)} --max-epochs allows"
    return None


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def _check_rescoring(recipes: list[Recipe], done: dict, settings: dict) -> None:
    """Refuse ``--resume`` of a row this command will not train further when it would score it
    on less evidence than its recorded measurement (fewer particles or fewer images): its
    weights stay as they are, so the new number could only replace a better-founded one. A
    larger K or more images re-score it; a row that trains on is scored afresh with any K."""
    from inference.config import ConfigError

    k = int(settings.get("num_particles", 5000))
    n = settings.get("num_images")
    for r in recipes:
        row = done.get(r.row)
        if row is None:
            continue
        why = _no_more_training(row, r, settings)
        had_k, had_n = row["num_particles"], row["num_images"]
        if why and (k < had_k or (n is not None and n < had_n)):
            raise ConfigError(
                f"--resume: row {r.row} {why}, so its weights stay as scored: K = {had_k} on "
                f"{had_n:,} images ({row['measured_nats']:.2f} nats); expected --num-particles "
                f">= {had_k} and --num-images >= {had_n} to score it again; found K = {k} on "
                f"{'all' if n is None else f'{n:,}'} images (leave its row as it is, or choose "
                "another --out)"
            )


def reproduce(
    rows: list[str], out: str | Path, time_budget_minutes: float | None = None, **settings
) -> list[dict]:
    """Train and evaluate each of ``rows`` (see :func:`reproduce_row`; ``time_budget_minutes``
    applies to each row's training), then rewrite the table in ``out``. Every row name and
    model is checked before anything trains."""
    import pgm
    from inference.config import ConfigError

    if not rows:
        raise ConfigError("rows: expected at least one row (see pgm reproduce --list); found none")
    recipes = load_recipes(rows)
    done = {row["row"]: row for _, row in read_rows(out)}  # checked before anything trains
    if not settings.get("resume"):
        # the same check train makes, made for every row before the first one trains
        from inference.run_folder import RunFolder

        for r in recipes:
            RunFolder(Path(out) / r.row).check({}, resume=False)
    else:
        # each row already begun must continue as it trained: refused here, naming the row,
        # not after the rows before it have trained for hours
        _check_resumable(recipes, Path(out), settings.get("overrides") or {})
        _check_rescoring(recipes, done, settings)
    for r in recipes:
        model = r.config.get("model", "vae")
        if model not in pgm.MODELS:
            raise ConfigError(
                f"row {r.row}: expected model {model!r} to be registered; found it missing "
                f"(models here: {', '.join(sorted(pgm.MODELS))})"
            )
    budget = None if time_budget_minutes is None else 60.0 * time_budget_minutes
    for recipe in recipes:
        reproduce_row(recipe, out, time_budget=budget, **settings)
        write_table(out)
    return write_table(out)
