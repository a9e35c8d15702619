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
from dataclasses import dataclass
from pathlib import Path

from pgm.configs import recipe_folder

__all__ = [
    "RECIPE_DIR",
    "ROWS",
    "Recipe",
    "format_list",
    "learning_curve_figure",
    "load_recipe",
    "list_recipes",
    "render_markdown",
    "reproduce",
    "reproduce_row",
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


def load_recipe(row: str, recipe_dir: str | Path | None = None) -> Recipe:
    """The recipe of ``row``; an unknown row is refused with the list of known ones."""
    from inference.config import ConfigError, load_config

    folder = Path(recipe_dir) if recipe_dir is not None else RECIPE_DIR
    path = folder / f"{row}.toml"
    if not path.is_file():
        known = ", ".join(r.row for r in list_recipes(folder)) or "none"
        raise ConfigError(f"row: expected one of {known}; found {row!r}")
    config = load_config(path)
    paper = config.pop("paper", None)
    if not isinstance(paper, dict) or not isinstance(paper.get("published_nats"), (int, float)):
        raise ConfigError(f"{path}: expected a [paper] table with published_nats; found {paper!r}")
    return Recipe(row, path, config, paper)


def list_recipes(recipe_dir: str | Path | None = None) -> list[Recipe]:
    """Every recipe in ``recipe_dir``: the issue's rows first, in its order."""
    folder = Path(recipe_dir) if recipe_dir is not None else RECIPE_DIR
    names = sorted(p.stem for p in folder.glob("*.toml"))
    ordered = [r for r in ROWS if r in names] + [n for n in names if n not in ROWS]
    return [load_recipe(name, folder) for name in ordered]


def format_list(recipes: list[Recipe]) -> str:
    """The ``--list`` table: row, paper, model, published test nats, recipe epochs, cpu/gpu."""
    import pgm

    header = ("row", "paper", "model", "published test nats", "recipe epochs", "needs", "")
    lines = []
    for r in recipes:
        model = r.config.get("model", "vae")
        prior = r.config.get("prior")
        what = f"{model}" + (f" ({prior})" if prior and model != "pixelvae" else "")
        missing = "" if model in pgm.MODELS else f"model {model!r} not registered here"
        lines.append(
            (
                r.row,
                r.paper.get("title", ""),
                what,
                f"{r.published_nats:.2f}",
                str(r.config.get("epochs", "")),
                r.device_class,
                missing,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*line).rstrip() for line in [header, *lines]) + "\n"


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
        "split, not on the papers' test split"
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
    result = train(
        cfg,
        run,
        resume=resume,
        data_dir=data_dir,
        progress=progress,
        max_epochs=max_epochs,
        time_budget=time_budget,
    )
    trained = time.perf_counter() - began
    model, cfg = result.model, result.config
    data, split, note = _evaluation_split(cfg, data_dir)
    data = data.subset(num_images)
    torch.manual_seed(0)
    est = estimate(
        model,
        None,
        data.float_images().to(resolve_device(cfg["device"])),
        num_particles,
        progress=progress,
    )
    summary = summarise_mean(est.log_likelihood.double().numpy())
    metrics = result.metrics
    curve = [[m["epoch"], -m["valid_loss"]] for m in metrics if m.get("valid_loss") is not None]
    stopped = result.stopped
    row = {
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
        "recipe_epochs": int(cfg["epochs"]),
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
        "wall_seconds": time.perf_counter() - began,
        "session_train_seconds": trained,
        "device": _device_name(next(model.parameters()).device),
        "device_class": recipe.device_class,
        "valid_curve": curve,
        # how far from a plateau: the validation curve's mean gain per epoch over its last
        # (up to) 10 epochs, in nats (positive: still improving)
        "recent_gain_per_epoch": _recent_gain(curve),
        "curve_quantity": "validation -ELBO" if model.has_latents else "validation log-likelihood",
    }
    atomic_write_text(run / ROW_FILE, json.dumps(row, indent=2) + "\n")
    return row


# -- the table ---------------------------------------------------------------------------------
def learning_curve_figure(row: dict):
    """Validation nats per epoch (the ELBO for latent-variable models, an upper bound's
    negative; the exact log-likelihood otherwise), the published value as a dashed line and
    the final K-sample estimate as a point: a matplotlib ``Figure``."""
    from .figures import plot_figure

    fig = plot_figure(4.2, 2.8)
    ax = fig.subplots()
    if row["valid_curve"]:
        epochs, values = zip(*row["valid_curve"], strict=True)
        label = (
            "validation ELBO" if row["curve_quantity"].endswith("ELBO") else "validation log p(x)"
        )
        ax.plot(epochs, values, label=label)
    ax.axhline(
        row["published_nats"],
        color="black",
        linestyle="--",
        label=f"published {row['published_nats']:.2f}",
    )
    ax.plot(
        [row["epochs_run"]],
        [row["measured_nats"]],
        "o",
        color="C3",
        label=f"measured {row['measured_nats']:.2f} ({row['split']}, K={row['num_particles']})",
    )
    lo = min(
        [
            row["published_nats"],
            row["measured_nats"],
            *(v for _, v in row["valid_curve"][-max(1, len(row["valid_curve"]) // 2) :]),
        ]
    )
    ax.set_ylim(lo - 5, max(row["published_nats"], row["measured_nats"]) + 3)
    ax.set_title(
        f"{row['row']} ({row['epochs_run']}/{row['recipe_epochs']} epochs)", fontsize="small"
    )
    ax.set_xlabel("epoch", fontsize="small")
    ax.set_ylabel("nats per image", fontsize="small")
    ax.tick_params(labelsize="x-small")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="lower right")
    return fig


def _status(row: dict) -> str:
    if row["cut_short"]:
        return f"cut short ({row['stopped']})"
    return "early stopping" if row["stopped"] == "early-stopping" else "complete"


def _table_rows(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    from .report import format_value

    header = [
        "row",
        "model",
        "published",
        "measured (split, K)",
        "95% CI",
        "gap",
        "epochs (run / recipe)",
        "gain/epoch (last 10)",
        "train time",
        "device",
        "status",
    ]
    body = []
    for r in rows:
        body.append(
            [
                r["row"],
                r["model"],
                format_value(r["published_nats"], ".2f"),
                f"{format_value(r['measured_nats'], '.2f')} ({r['split']}, K={r['num_particles']})",
                format_value(r["ci95"], ".2f"),
                format_value(r["gap_nats"], "+.2f"),
                f"{r['epochs_run']} / {r['recipe_epochs']}",
                format_value(r.get("recent_gain_per_epoch"), "+.3f"),
                f"{r['train_seconds'] / 60:.1f} min",
                r["device"],
                _status(r),
            ]
        )
    return header, body


def _notes(rows: list[dict]) -> list[str]:
    notes = sorted({r["split_note"] for r in rows if r["split_note"]})
    other = sorted({r["data"] for r in rows if r["data"] != "binarized-mnist"})
    if other:
        notes.append(
            f"Trained on {', '.join(other)}, not the papers' binarized MNIST: those rows' "
            "gaps compare different data and say nothing about the papers."
        )
    notes.append(
        "Gap = measured − published (negative: the reproduction is below the paper). "
        "Measured: mean log p(x) per image by importance sampling with K samples "
        "(exact for models without latents), 95% bootstrap interval over images."
    )
    notes.append(
        "Gain/epoch: the validation curve's mean change per epoch over its last 10 epochs "
        "(nats; near 0: at a plateau; positive: still improving)."
    )
    if any(r["cut_short"] for r in rows):
        notes.append(
            "Rows marked 'cut short' stopped at a session budget, not at the recipe's "
            "end: their numbers are budget-limited; `pgm reproduce ROW --out DIR "
            "--resume` carries them on."
        )
    return notes


def render_markdown(rows: list[dict]) -> str:
    header, body = _table_rows(rows)
    out = ["# Reproduction of published binarized-MNIST results\n"]
    out += [f"- {n}" for n in _notes(rows)]
    out.append("")
    out.append("| " + " | ".join(header) + " |")
    out.append(
        "|" + "|".join("---" if i in (0, 1, 9, 10) else "---:" for i in range(len(header))) + "|"
    )
    out += ["| " + " | ".join(cells) + " |" for cells in body]
    out.append("")
    for r in rows:
        out.append(f"## {r['row']}\n\n{r['citation']} (recipe `papers/{r['recipe']}`).\n")
        out.append(f"![{r['row']} learning curve](figures/{r['row']}-learning-curve.png)\n")
    return "\n".join(out)


def render_html(rows: list[dict], figures: list) -> str:
    import html

    from .report import STYLESHEET, html_figures

    header, body = _table_rows(rows)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>pgm reproduction</title>",
        f"<style>{STYLESHEET}</style></head><body>",
        '<h1 id="reproduction">Reproduction of published binarized-MNIST results</h1>',
    ]
    out += [f"<p>{html.escape(n)}</p>" for n in _notes(rows)]
    out.append(
        "<table><thead><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in header)
        + "</tr></thead><tbody>"
    )
    for cells in body:
        text_class = ' class="text"'
        out.append(
            "<tr>"
            + "".join(
                f"<td{text_class if i in (0, 1, 9, 10) else ''}>{html.escape(c)}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    out.append(f"<div>{html_figures(figures, 'reproduction')}</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def read_rows(out: str | Path) -> list[tuple[Path, dict]]:
    """Every ``out/*/reproduction.json`` with its row, each checked before any is used: JSON
    holding an object whose ``row`` is a known recipe's name and the name of its folder (a row
    names files in ``out/figures``); anything else is refused in one line naming the file."""
    from inference.config import ConfigError

    known = {r.row for r in list_recipes()} | set(ROWS)
    rows = []
    for path in sorted(Path(out).glob(f"*/{ROW_FILE}")):
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(
                f"--out: expected {path} to be a row written by pgm reproduce; found it "
                f"unreadable ({type(err).__name__}: {str(err)[:80]}; remove it or choose another "
                "--out)"
            ) from None
        name = row.get("row") if isinstance(row, dict) else None
        if name not in known or name != path.parent.name:
            raise ConfigError(
                f"--out: expected {path} to hold a known row named like its folder "
                f"({path.parent.name!r}); found row {str(name)[:60]!r} (remove it or choose "
                "another --out)"
            )
        rows.append((path, row))
    return rows


def write_table(out: str | Path) -> list[dict]:
    """Rewrite ``out/reproduction.{json,md,html}`` and the learning curves from every row in
    ``out`` (each row's own ``reproduction.json``); returns the rows."""
    from inference.atomic_write import atomic_write_bytes, atomic_write_text

    from .figures import FigureFile, plot_bytes

    out = Path(out)
    checked = {row["row"]: (path, row) for path, row in read_rows(out)}
    found = {name: path for name, (path, _) in checked.items()}
    order = [r for r in ROWS if r in found] + sorted(r for r in found if r not in ROWS)
    rows = [checked[r][1] for r in order]
    (out / "figures").mkdir(parents=True, exist_ok=True)
    figures = []
    for r in rows:
        name = f"{r['row']}-learning-curve"
        png_path = out / "figures" / f"{name}.png"
        # redrawn only when the row changed since its figure was drawn
        if not png_path.is_file() or png_path.stat().st_mtime < found[r["row"]].stat().st_mtime:
            fig = learning_curve_figure(r)
            png, svg = plot_bytes(fig, with_svg=True)
            atomic_write_bytes(out / "figures" / f"{name}.svg", svg)
            atomic_write_bytes(png_path, png)
        caption = f"{r['row']}: {r['curve_quantity']} per epoch; dashed: published"
        figures.append(FigureFile(f"{name}.png", caption, "reproduction", png_path.read_bytes()))
    atomic_write_text(out / "reproduction.json", json.dumps({"rows": rows}, indent=2) + "\n")
    atomic_write_text(out / "reproduction.md", render_markdown(rows))
    atomic_write_text(out / "reproduction.html", render_html(rows, figures))
    return rows


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
    twice = sorted({r for r in rows if rows.count(r) > 1})
    if twice:
        raise ConfigError(f"rows: expected each row once; found {', '.join(twice)} more than once")
    recipes = [load_recipe(r) for r in rows]
    read_rows(out)  # g-files: rows already in out are checked before anything trains
    if not settings.get("resume"):
        # the same check train makes, made for every row before the first one trains
        from inference.run_folder import RunFolder

        for r in recipes:
            RunFolder(Path(out) / r.row).check({}, resume=False)
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
