"""The papers' recipes: a ``pgm train`` config plus a ``[paper]`` table (title, citation, the
published test log-likelihood in nats, the K of its evaluation, whether it fits a CPU), shipped
as package data in ``pgm/configs/papers`` and read with importlib.resources."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pgm.configs import recipe_folder
from pgm.validation import check_unique, short_repr

__all__ = [
    "RECIPE_DIR",
    "ROWS",
    "ROW_FILE",
    "Recipe",
    "format_list",
    "list_recipes",
    "load_recipe",
    "load_recipes",
]

#: Where the recipes live: package data of pgm.configs (``pgm/configs/papers``), read through
#: importlib.resources so that an installed wheel has them too.
RECIPE_DIR = recipe_folder()

#: The rows of issue 10's table, in its order (recipes found beyond these follow by name).
ROWS = (
    "vae-vampprior-paper",
    "vamp-1layer",
    "hvae-vamp",
    "convhvae-vamp",
    "pixelhvae-vamp",
    "iwae-1layer",
    "pixelcnn",
    "row-lstm",
    "diagonal-bilstm",
    "pixelvae",
)

ROW_FILE = "reproduction.json"


@dataclass
class Recipe:
    """One row: its name, file, training config (the ``pgm train`` keys) and ``[paper]`` table."""

    row: str
    path: Path
    config: dict
    paper: dict

    @property
    def published_nats(self) -> float:
        return float(self.paper["published_nats"])

    @property
    def device_class(self) -> str:
        return self.paper.get("device", "cpu")


#: a row's name: what a recipe file's stem may be (no path separator, no leading dot)
_ROW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _is_row(row, folder: Path) -> bool:
    """Whether ``row`` is the bare name of a recipe in ``folder``."""
    return (
        isinstance(row, str)
        and bool(_ROW_NAME.fullmatch(row))
        and (folder / f"{row}.toml").is_file()
    )


def load_recipe(row: str, recipe_dir: str | Path | None = None) -> Recipe:
    """The recipe of ``row``; an unknown row is refused with the list of known ones."""
    from inference.config import ConfigError, load_config

    folder = Path(recipe_dir) if recipe_dir is not None else RECIPE_DIR
    path = folder / f"{row}.toml"
    # a row is a recipe's bare name: a path ("/tmp/evil", "../papers/x") named a file outside
    # the recipes and trained its run outside --out
    if not _is_row(row, folder):
        known = ", ".join(r.row for r in list_recipes(folder)) or "none"
        raise ConfigError(f"row: expected one of {known}; found {row!r}")
    config = load_config(path)
    paper = config.pop("paper", None)
    if not isinstance(paper, dict) or not isinstance(paper.get("published_nats"), (int, float)):
        raise ConfigError(f"{path}: expected a [paper] table with published_nats; found {paper!r}")
    return Recipe(row, path, config, paper)


def load_recipes(rows: list[str], recipe_dir: str | Path | None = None) -> list[Recipe]:
    """The recipes of ``rows``, in their order. An unknown row is refused, every unknown row
    named at once, and so is a row named more than once (both ``pgm reproduce ROW ...`` and
    ``--list ROW ...`` check their rows here)."""
    from inference.config import ConfigError

    folder = Path(recipe_dir) if recipe_dir is not None else RECIPE_DIR
    rows = list(rows)
    unknown = [r for r in rows if not _is_row(r, folder)]
    named = list(dict.fromkeys(short_repr(r, 40) for r in unknown))
    if len(named) > 1:  # every one named (load_recipe names one alone), up to 20
        known = ", ".join(r.row for r in list_recipes(folder)) or "none"
        more = f" and {len(named) - 20} more" if len(named) > 20 else ""
        raise ConfigError(f"rows: expected each of {known}; found {', '.join(named[:20])}{more}")
    if unknown:
        load_recipe(unknown[0], folder)  # refused, naming it
    check_unique(rows, "rows", "each row")
    return [load_recipe(r, folder) for r in rows]


def list_recipes(recipe_dir: str | Path | None = None) -> list[Recipe]:
    """Every recipe in ``recipe_dir``: the issue's rows first, in its order."""
    folder = Path(recipe_dir) if recipe_dir is not None else RECIPE_DIR
    names = sorted(p.stem for p in folder.glob("*.toml"))
    ordered = [r for r in ROWS if r in names] + [n for n in names if n not in ROWS]
    return [load_recipe(name, folder) for name in ordered]


def format_list(recipes: list[Recipe], done: dict | None = None) -> str:
    """The ``--list`` table: row, paper, model, published test nats, recipe epochs, cpu/gpu;
    with ``done`` (``--out``'s rows by name, each ``(scored row or None, run folder's progress or
    None)``), what each row reached there."""
    import pgm

    header = ("row", "paper", "model", "published test nats", "recipe epochs", "needs", "")
    if done is not None:
        header = (*header[:-1], "in --out", "")
    lines = []
    for r in recipes:
        model = r.config.get("model", "vae")
        prior = r.config.get("prior")
        what = f"{model}" + (f" ({prior})" if prior and model != "pixelvae" else "")
        missing = "" if model in pgm.MODELS else f"model {model!r} not registered here"
        line = (
            r.row,
            r.paper.get("title", ""),
            what,
            f"{r.published_nats:.2f}",
            str(r.config.get("epochs", "")),
            r.device_class,
        )
        if done is not None:
            line = (*line, _reached(done.get(r.row)))
        lines.append((*line, missing))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*line).rstrip() for line in [header, *lines]) + "\n"


def _reached(entry) -> str:
    """What a row reached in ``--out``, in a few words: ``entry`` is ``None`` (not there) or
    ``(row, progress)``, its scored row (``None`` when not scored yet) and its run folder's
    :func:`evaluation.row_progress.row_progress` (``None`` when it has no run folder)."""
    if entry is None:
        return "-"
    row, progress = entry
    pid = progress["training_pid"] if progress else None
    if row == "unreadable":  # read_row's refusal, said on its row
        return f"its {ROW_FILE} unreadable or not pgm's (remove it; --resume scores the row)"
    if row is not None:
        state = "cut short, --resume continues it" if row.get("cut_short") else "finished"
        epochs = row["epochs_run"]
        data = "" if row.get("data") == "binarized-mnist" else f" on {row.get('data')}"
        text = (
            f"{row['measured_nats']:.2f} ({row['split']}{data}, K = {row['num_particles']}, "
            f"{epochs} epoch{'' if epochs == 1 else 's'}, {state})"
        )
        if pid is not None:  # scored, and being trained further (or scored again) now
            text += f"; being trained or scored again now (pid {pid}), {_so_far(progress)}"
        elif progress and progress["epochs_run"] > epochs:  # trained on, then stopped
            text += f"; trained on since ({_so_far(progress)}), not scored again"
        return text
    if progress is None:
        return "begun, not scored"
    if progress["metrics_unreadable"]:
        so_far = "its metrics.jsonl unreadable"
    else:
        so_far = _so_far(progress)
    if pid is not None:
        return f"being trained or scored now (pid {pid}): {so_far}; not scored yet"
    if progress["ended"] == "unreadable":
        return (
            f"stopped ({so_far}), not scored; its newest checkpoint is unreadable (--resume "
            "names which to move away)"
        )
    if progress["ended"]:
        return f"trained ({so_far}), not scored: --resume scores it"
    return f"stopped ({so_far}), not scored: --resume continues it"


def _so_far(progress: dict) -> str:
    """A run's epochs so far and its best validation loss, in a few words."""
    epochs, best = progress["epochs_run"], progress["best_valid_loss"]
    if epochs == 0:
        return "no epoch finished yet"
    text = f"{epochs} epoch{'' if epochs == 1 else 's'}"
    if best is None:
        return text
    # a tampered 1e308 in four significant digits, not a 309-digit cell
    shown = f"{best:.4g}" if abs(best) >= 1e6 else f"{best:.2f}"
    return f"{text}, best validation loss {shown}"
