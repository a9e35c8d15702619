"""The reproduction table: every ``OUT/*/reproduction.json`` row checked, then
``OUT/reproduction.{json,md,html}`` and the learning curves rewritten from them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pgm.validation import short_repr

from .recipes import ROW_FILE, ROWS, list_recipes

__all__ = [
    "learning_curve_figure",
    "read_rows",
    "recipe_differences",
    "render_html",
    "render_markdown",
    "run_differences",
    "write_table",
]


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


_OTHER_SEED = re.compile(r"seed \(run has \d+, recipe \d+\)")


def _is_seed(difference: str) -> bool:
    """A training seed other than the recipe's, both integers: another run of the same recipe,
    noted apart (a missing or non-integer seed is a difference like any other)."""
    return _OTHER_SEED.fullmatch(difference) is not None


#: why a row could not be compared with its recipe (``recipe_differences`` gave None)
_UNCOMPARED = (
    "its config.json missing, unreadable or invalid, or the recipe unreadable or not resolvable "
    "with it"
)


def _changes(row: dict) -> str:
    """The row's differences from its recipe (``recipe_differences``) but its seed, else its
    ``--set`` overrides as recorded; "" when it is the recipe's, or nothing is known (noted
    apart)."""
    differences = row.get("recipe_differences")
    if differences is not None:
        return ", ".join(d for d in differences if not _is_seed(d))
    overrides = row.get("overrides")
    if not isinstance(overrides, dict) or not overrides:
        return ""  # noted apart: unknown
    named = ", ".join(f"{k} = {short_repr(v)}" for k, v in overrides.items())
    return f"{named}; not compared with its recipe ({_UNCOMPARED}), so other differences unknown"


def _notes(rows: list[dict]) -> list[str]:
    notes = sorted({r["split_note"] for r in rows if r["split_note"]})
    other = sorted({r["data"] for r in rows if r["data"] != "binarized-mnist"})
    if other:
        notes.append(
            f"Trained on {', '.join(other)}, not the papers' binarized MNIST: those rows' "
            "gaps compare different data and say nothing about the papers."
        )
    unknown = [r["row"] for r in rows if r.get("recipe_differences") is None and not _changes(r)]
    if unknown:
        notes.append(
            f"Whether {', '.join(unknown)} trained by its recipe is unknown: it was not compared "
            f"with its recipe ({_UNCOMPARED})."
        )
    seeds = [
        f"{r['row']}: {d}" for r in rows for d in (r.get("recipe_differences") or []) if _is_seed(d)
    ]
    if seeds:
        notes.append(
            f"Trained with another seed than their recipe's: {'; '.join(seeds)}. Another "
            "training run of the recipe; runs of one recipe differ by their seed's spread."
        )
    changed = [f"{r['row']}: {_changes(r)}" for r in rows if _changes(r)]
    if changed:
        notes.append(
            f"Trained otherwise than their recipes as they are now (by --set, or before the "
            f"recipe was changed): {'; '.join(changed)}. Those rows measure a modified recipe, "
            "not the recipe the paper row names."
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


def run_differences(run: Path, config: dict, label: str, strict: bool = False) -> list[str] | None:
    """How the run in folder ``run`` differs from ``config`` (a recipe, with a command's
    ``--set`` changes), one ``key (run has A, LABEL B)`` per key
    (:func:`inference.fingerprint.config_differences`: session keys, a grown ``epochs`` and keys
    the model does not read aside). None when the run's ``config.json`` or ``config`` cannot be
    read (``strict``: its one-line error is raised instead). Reads files only: no plug-in is
    imported."""
    from inference.config import resolve_config
    from inference.fingerprint import config_differences
    from inference.run_folder import CONFIG_FILE, read_json_object
    from pgm.errors import PgmError

    # a bad value is blamed on where it came from: the run's config.json, or the recipe with
    # the command's --set (a --set seed='"15"' is not the run's fault)
    blamed = str(run / CONFIG_FILE)
    try:
        trained = read_json_object(run / CONFIG_FILE, "--out")
        blamed = f"the recipe with {label}'s --set" if label == "this command" else label
        now = resolve_config(
            config,
            image_shape=trained.get("image_shape"),
            num_levels=trained.get("num_levels"),
        )
        blamed = str(run / CONFIG_FILE)
        differences = config_differences(trained, now, label=label)
    except (PgmError, OSError, TypeError, ValueError) as err:
        if strict:
            raise PgmError(f"{blamed}: {' '.join(str(err).split())[:400]}") from None
        return None
    ran, planned = trained.get("epochs"), now.get("epochs")
    if label == "recipe" and ran != planned:
        # a resume may grow epochs (so config_differences lets a shorter run pass); a table
        # says a run was planned shorter than its recipe
        differences = [d for d in differences if not d.startswith("epochs ")]
        differences.append(f"epochs (run has {short_repr(ran)}, recipe {short_repr(planned)})")
    return sorted(differences)


def recipe_differences(run: Path, row: str) -> list[str] | None:
    """How the run in folder ``run`` differs from the recipe of ``row`` as it is now
    (:func:`run_differences`; the data is noted apart): what ``--set`` changed, and what an edit
    of the recipe changed since the run trained. None when the run's ``config.json`` or the
    recipe cannot be read (the row's ``overrides`` then stand, and the table says the rest is
    unknown)."""
    from pgm.errors import PgmError

    from .recipes import load_recipe

    try:
        recipe = load_recipe(row)
    except (PgmError, OSError):
        return None
    differences = run_differences(run, recipe.config, "recipe")
    return None if differences is None else [d for d in differences if not d.startswith("data ")]


_NUMBER = (int, float)
#: what the table reads of each row, and its types (None: may be null)
_ROW_FIELDS = {
    "model": (str,),
    "data": (str,),
    "recipe": (str,),
    "citation": (str,),
    "published_nats": _NUMBER,
    "measured_nats": _NUMBER,
    "gap_nats": _NUMBER,
    "ci95": (list,),
    "split": (str,),
    "split_note": (str,),
    "num_particles": (int,),
    "num_images": (int,),
    "epochs_run": (int,),
    "recipe_epochs": (int,),
    "valid_curve": (list,),
    "curve_quantity": (str,),
    "stopped": (str, type(None)),
    "cut_short": (bool,),
    "train_seconds": _NUMBER,
    "device": (str,),
}


#: the row's counts, which must be positive integers
_POSITIVE = ("num_particles", "num_images", "epochs_run")


def _is(value, kinds: tuple) -> bool:
    if isinstance(value, bool) and bool not in kinds:
        return False
    if not isinstance(value, kinds):
        return False
    if isinstance(value, list) and kinds == (list,):
        # ci95 is [low, high]; valid_curve is [[epoch, nats], ...]
        return all(isinstance(v, _NUMBER) or (isinstance(v, list) and len(v) == 2) for v in value)
    return True


def read_rows(out: str | Path) -> list[tuple[Path, dict]]:
    """Every ``out/*/reproduction.json`` with its row, each checked before any is used
    (:func:`read_row`); anything else is refused in one line naming the file."""
    return [(path, read_row(path)) for path in sorted(Path(out).glob(f"*/{ROW_FILE}"))]


def read_row(path: str | Path) -> dict:
    """The row in ``path`` (``OUT/ROW/reproduction.json``), checked: JSON holding an object
    whose ``row`` is a known recipe's name and the name of its folder (a row names files in
    ``out/figures``), with the fields the table reads; else refused in one line naming it."""
    from inference.config import ConfigError
    from inference.run_folder import read_run_text

    path = Path(path)
    known = {r.row for r in list_recipes()} | set(ROWS)
    try:
        row = json.loads(read_run_text(path, "--out"))  # bounded: not /dev/zero, not a FIFO
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
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
    wrong = [k for k, kinds in _ROW_FIELDS.items() if not _is(row.get(k), kinds)]
    # counts are positive (the --resume guard compares them)
    wrong += [k for k in _POSITIVE if k not in wrong and row[k] < 1]
    if wrong:
        raise ConfigError(
            f"--out: expected {path} to be a row written by pgm reproduce; found "
            f"{', '.join(wrong[:5])}{' ...' if len(wrong) > 5 else ''} missing, of the "
            "wrong type or out of range (remove it, or run the row again without --resume in "
            "another --out)"
        )
    return row


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
    for r in rows:
        r["recipe_differences"] = recipe_differences(found[r["row"]].parent, r["row"])
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
