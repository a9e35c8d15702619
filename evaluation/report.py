"""Rendering ``results.json`` and the figures as ``report.html`` (one self-contained page, every
figure embedded as a base64 data URI, readable offline) and ``report.md``.

Every number in a table is written by :func:`format_value` from the value in the results, and
each HTML cell names where it came from (``data-path="models/0/ci95"``) and how it was
formatted (``data-format=".2f"``), so a test, or a sceptical reader, can check the page
against ``results.json`` cell by cell.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .figures import FigureFile

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "STYLESHEET",
    "TABLES",
    "Column",
    "Table",
    "format_value",
    "html_figures",
    "render_html",
    "render_markdown",
    "resolve_path",
    "summary_sentence",
    "table_cells",
    "warning_messages",
]


@dataclass(frozen=True)
class Column:
    """One table column: its header, the key in each results row, the format spec."""

    header: str
    key: str
    fmt: str = ""
    title: str = ""


class Table(NamedTuple):
    """One table of the report: its caption, the results key holding its rows, the key a row
    must have set to be shown ("": every row), and its columns."""

    caption: str
    rows: str
    only: str
    columns: list[Column]


#: section id -> its table
TABLES: dict[str, Table] = {
    "ranking": Table(
        (
            "Test log-likelihood per model, best first. Group letters: models sharing a letter "
            "are not distinguishable (Holm-adjusted paired tests); rank range: the ranks the "
            "data leave possible."
        ),
        "models",
        "",
        [
            Column("rank", "rank", "d"),
            Column(
                "rank range",
                "rank_range",
                "d",
                "1 + #models significantly better … M − #models significantly worse",
            ),
            Column("group", "group"),
            Column("model", "model"),
            Column(
                "log p(x) nats",
                "log_likelihood_nats",
                ".2f",
                "mean over test images of the K-sample estimate",
            ),
            Column("95% CI", "ci95", ".2f", "BCa bootstrap interval of the mean"),
            Column("SE", "standard_error_nats", ".3f", "standard error of the mean"),
            Column("bits/dim", "bits_per_dim", ".4f"),
            Column("bits/dim 95% CI", "bits_per_dim_ci95", ".4f"),
            Column("ELBO nats", "elbo_nats", ".2f"),
            Column(
                "gap nats",
                "gap_nats",
                ".2f",
                "log p(x) − ELBO: the inference gap the K samples close",
            ),
            Column("K", "num_particles", "d"),
            Column(
                "training",
                "training",
                "",
                "validation loss at the last epoch: still falling, flat or over-fitting "
                "(see Method)",
            ),
        ],
    ),
    "models": Table(
        (
            "What was built: each model's parts as constructed (read from the built objects), and "
            "its training — the best validation epoch (the weights evaluated), the last epoch, and "
            "the validation loss's slope over the last fifth of training (nats per image per "
            "epoch)."
        ),
        "models",
        "",
        [
            Column("model", "model"),
            Column("description", "description"),
            Column("best epoch", "convergence/best_epoch", "d"),
            Column("last epoch", "convergence/last_epoch", "d"),
            Column("slope", "convergence/slope_per_epoch", ".3f"),
            Column("training", "training"),
        ],
    ),
    "no_density": Table(
        (
            "Models without a density p(x) are left out of the ranking: they have no likelihood to "
            "estimate or compare. They appear in the representation table, reconstructions, "
            "traversals and training curves."
        ),
        "models_without_density",
        "",
        [
            Column("model", "model"),
            Column("description", "description"),
            Column("best epoch", "convergence/best_epoch", "d"),
            Column("last epoch", "convergence/last_epoch", "d"),
            Column("training", "convergence/status"),
        ],
    ),
    "comparisons": Table(
        (
            "Paired comparisons of the trained networks (one run each: training variance not "
            "included) on the same test images: mean of log p_a(x) − log p_b(x) (a is "
            "the better mean), its BCa 95% interval, the sign-flip randomisation test p-value "
            "(a Monte Carlo p-value: never below 1/(R+1) for R resamples), Holm-adjusted, and "
            "Wilcoxon's signed-rank p-value for reference."
        ),
        "comparisons",
        "",
        [
            Column("a", "a"),
            Column("b", "b"),
            Column("mean difference nats", "mean_difference_nats", ".2f"),
            Column("95% CI", "ci95", ".2f"),
            Column(
                "a better on",
                "fraction_a_better",
                ".2f",
                "fraction of test images where a scores higher",
            ),
            Column("p (sign-flip)", "p_value", ".3g"),
            Column("p Holm", "p_value_adjusted", ".3g"),
            Column("p (Wilcoxon)", "p_value_wilcoxon", ".3g"),
            Column("different", "significant"),
        ],
    ),
    "importance": Table(
        (
            "Importance-sampling diagnostics per latent model, over the test images: PSIS k-hat "
            "(Vehtari et al. 2024; > 0.7 unreliable) and Kish's effective sample size of the K "
            "weights."
        ),
        "models",
        "has_latents",
        [
            Column("model", "model"),
            Column("k-hat median", "psis_khat", ".2f"),
            Column("k-hat max", "psis_khat_max", ".2f"),
            Column("share k-hat > 0.7", "psis_khat_unreliable_fraction", ".3f"),
            Column("ESS mean", "ess_mean", ".1f"),
            Column("ESS min", "ess_min", ".1f"),
            Column("K", "num_particles", "d"),
        ],
    ),
    "latent": Table(
        (
            "VAE diagnostics: rate (KL, nats) and distortion (−E_q log p(x|z), nats), their sum "
            "the negative ELBO (Alemi et al. 2018); active units: Cov_x(E_q[z_u|x]) > 0.01 "
            "(Burda et al. 2016)."
        ),
        "models",
        "has_latents",
        [
            Column("model", "model"),
            Column("rate nats", "rate_nats", ".2f"),
            Column("distortion nats", "distortion_nats", ".2f"),
            Column("ELBO nats", "elbo_nats", ".2f"),
            Column("active units", "active_units", "d"),
            Column("latent dim", "latent_dim", "d"),
            Column("status", "status"),
        ],
    ),
    "representation": Table(
        (
            "Representation quality: test accuracy of a linear classifier (logistic regression on "
            "standardised features) trained on the codes E_q[z|x] of the training split."
        ),
        "representation",
        "",
        [
            Column("model", "model"),
            Column("features", "features"),
            Column("feature dim", "feature_dim", "d"),
            Column("test accuracy", "accuracy", ".3f"),
            Column("train images", "num_train", "d"),
            Column("test images", "num_test", "d"),
            Column("converged", "converged"),
        ],
    ),
}

SECTIONS = [
    ("ranking", "Log-likelihood and ranking"),
    ("models", "Models and training"),
    ("no_density", "Models without a density"),
    ("comparisons", "Paired comparisons"),
    ("importance", "Importance-sampling diagnostics"),
    ("latent", "Latent-variable diagnostics"),
    ("representation", "Representation quality"),
    ("samples", "Samples"),
    ("reconstructions", "Reconstructions"),
    ("traversals", "Latent traversals"),
    ("interpolations", "Interpolations"),
    ("completions", "Completions"),
    ("training", "Training curves"),
    ("method", "Method"),
]


def format_value(value, fmt: str = "") -> str:
    """The text of one table cell: ``None`` as an em dash, booleans as yes/no, lists as
    ``[a, b]`` (each element with ``fmt``), numbers with ``fmt`` and a true minus sign (−, not
    the hyphen), anything else as ``str``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v, fmt) for v in value) + "]"
    if isinstance(value, int | float) and fmt:
        if isinstance(value, float) and math.isnan(value):
            return "—"
        return format(value, fmt).replace("-", "−")
    return str(value)


def resolve_path(results: dict, path: str):
    """The value at ``path`` (``"models/0/ci95"``) in the results; ``None`` where a nested key
    (``convergence/best_epoch``) is absent."""
    node = results
    for part in path.split("/"):
        if node is None:
            return None
        node = (
            node[int(part)]
            if isinstance(node, list)
            else node.get(part)
            if isinstance(node, dict)
            else None
        )
    return node


def table_cells(results: dict, table: str) -> tuple[list[Column], list[list[tuple[str, str, str]]]]:
    """The columns of ``table`` and its rows of cells ``(text, data-path, format)``."""
    spec = TABLES[table]
    key, only, columns = spec.rows, spec.only, spec.columns
    rows = []
    for i, row in enumerate(results.get(key, [])):
        if only and not row.get(only):
            continue
        path = f"{key}/{i}"
        rows.append(
            [
                (format_value(resolve_path(row, c.key), c.fmt), f"{path}/{c.key}", c.fmt)
                for c in columns
            ]
        )
    return columns, rows


# -- HTML -------------------------------------------------------------------------------------
# Tables take the column's width and no more: cells wrap (numbers only at the space of an
# interval "[a, b]", text anywhere), so every column shows on screen and on paper; the print
# stylesheet drops the width cap and shrinks the type to fit a portrait page.
STYLESHEET = """
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45;overflow-wrap:break-word}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em;width:100%;table-layout:auto}
th,td{border:1px solid #ccc;padding:.2em .4em;text-align:right;vertical-align:top}
th{background:#f3f3f3;font-weight:600;overflow-wrap:normal;hyphens:auto}
td{white-space:normal}td.text,th.text{text-align:left;overflow-wrap:break-word}td.name{white-space:nowrap}
td.num{white-space:nowrap}td.interval{min-width:6.5em}
caption{caption-side:top;text-align:left;color:#555;padding:.3em 0;white-space:normal}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.6em 1em;border-radius:4px}
.warn li{margin:.2em 0}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top;max-width:100%}
figcaption{font-size:.85em;color:#555;max-width:560px}
img{image-rendering:pixelated;max-width:100%;height:auto}
code{background:#f5f5f5;padding:0 .2em}
nav{font-size:.9em;margin:.5em 0 1em}nav a{color:#2a5db0;text-decoration:none}
@media print{
@page{size:A4;margin:12mm}
body{max-width:none;margin:0;padding:0;font-size:9pt}
table{font-size:7pt}th,td{padding:.1em .25em}
tr,figure,.warn{break-inside:avoid}h2{break-after:avoid}
nav{display:none}img{max-width:100%}figcaption{max-width:none}
}
"""


#: no scripts, no fonts, no requests: inline styles and data: images only
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _cell_class(text: str, fmt: str, path: str = "") -> str:
    """``name`` (a model's name: one line), ``text`` (words: left-aligned, wrap between
    words), ``interval`` (``[a, b]``: wraps at its space) or ``num`` (never wraps)."""
    if not fmt:
        return (
            ' class="text name"'
            if path.rsplit("/", 1)[-1] in ("model", "a", "b")
            else ' class="text"'
        )
    return ' class="interval"' if text.startswith("[") else ' class="num"'


def _html_header(c: Column) -> str:
    """One ``<th>``: left-aligned over words, with the column's explanation as its tooltip."""
    cls = "" if c.fmt else ' class="text"'
    title = f' title="{html.escape(c.title)}"' if c.title else ""
    return f"<th{cls}{title}>{html.escape(c.header)}</th>"


def _html_table(results: dict, table: str) -> str:
    caption = TABLES[table].caption
    columns, rows = table_cells(results, table)
    if not rows:
        return "" if table == "no_density" else "<p><em>No rows.</em></p>"
    head = "".join(_html_header(c) for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td{_cell_class(text, fmt, path)} data-path="{html.escape(path)}" '
            f'data-format="{html.escape(fmt)}">{html.escape(text)}</td>'
            for text, path, fmt in cells
        )
        + "</tr>"
        for cells in rows
    )
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def html_figures(figures: Sequence[FigureFile], section: str) -> str:
    """The figures of one report ``section`` as HTML ``<figure>``s, each PNG embedded as a
    base64 data URI with its caption."""
    parts = []
    for f in figures:
        if f.section != section:
            continue
        data = base64.b64encode(f.png).decode("ascii")
        # plots are rendered at 150 dpi and shown at 100 (sharp on high-density screens);
        # image grids are already upscaled pixel for pixel and shown as they are
        width = int.from_bytes(f.png[16:20], "big") if f.png[:8] == b"\x89PNG\r\n\x1a\n" else 0
        size = f' width="{round(width * 100 / 150)}"' if f.svg is not None and width else ""
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}"{size} alt="{html.escape(f.caption)}" '
            f'data-name="{html.escape(f.name)}"><figcaption>{html.escape(f.caption)}</figcaption></figure>'
        )
    return "\n".join(parts)


def warning_messages(results: dict) -> list[str]:
    """The sentences of ``results["warnings"]`` (records with a ``message``, see
    :func:`~.warning_record.warning_record`). Runs still falling at their last epoch are listed
    in one sentence when there are several (``results.json`` keeps one record each)."""
    records = results.get("warnings", [])
    falling = [w for w in records if w.get("code") == "not-converged"]
    out, listed = [], False
    for w in records:
        if w in falling and len(falling) > 1:
            if not listed:
                runs = ", ".join(
                    f"{f['model']} ({format_value(f['value'], '.3f')})" for f in falling
                )
                out.append(
                    f"{len(falling)} runs were still falling at their last epoch (slope of the "
                    f"validation loss, nats per image per epoch): {runs}: trained for a budget, "
                    "not to convergence"
                )
                listed = True
        else:
            out.append(w["message"])
    return out


def _shown(results: dict, section: str, figures: Sequence[FigureFile]) -> bool:
    """Whether ``section`` has anything to show (a table with rows, a figure, or the method)."""
    if section == "method" or any(f.section == section for f in figures):
        return True
    if section not in TABLES:
        return False
    return section != "no_density" or bool(results.get("models_without_density"))


def summary_sentence(results: dict) -> str:
    """One sentence: the best model(s) and how many differences the data support."""
    if results.get("seeds"):  # issue 19: what holds over seeds leads (seed_report.py)
        from .seed_report import seed_summary_sentence

        return seed_summary_sentence(results)
    rows = results["models"]
    if not rows:
        return "No density model was evaluated."
    top = [r["model"] for r in rows if r["rank_range"][0] == 1]
    comps = results["comparisons"]
    different = sum(c["significant"] for c in comps)
    best = (
        f"Best mean log-likelihood: {rows[0]['model']} "
        f"({format_value(rows[0]['log_likelihood_nats'], '.2f')} nats, "
        f"{format_value(rows[0]['bits_per_dim'], '.4f')} bits/dim)"
    )
    if len(top) > 1:
        best += (
            f"; not distinguishable from it: {', '.join(t for t in top if t != rows[0]['model'])}"
        )
    return f"{best}. {different} of {len(comps)} pairwise differences are significant."


def _epochs_text(run: dict) -> str:
    """``40 epochs, 12.3 s`` or, with early stopping, ``87 of at most 500 epochs (patience 10)``."""
    ran, cap = run.get("epochs_run") or run.get("epochs"), run.get("epochs")
    text = (
        f"{ran} of at most {cap} epochs (early stopping, patience {run['patience']})"
        if run.get("patience")
        else f"{cap} epochs"
    )
    return text + (
        f", {run['train_seconds']:.0f} s" if run.get("train_seconds") is not None else ""
    )


def method_paragraphs(results: dict) -> list[str]:
    """The method section as plain-text paragraphs (shared by the HTML and Markdown reports)."""
    m = results["method"]
    runs = "; ".join(
        f"{name}: {r['architecture']}, seed {r['seed']}, {_epochs_text(r)}"
        for name, r in m["runs"].items()
    )
    return [
        (
            f"Test set: the {m['split']} split of {m['dataset']}, {m['num_images']} images of "
            f"{m['num_dims']} dimensions with {m['num_levels']} levels each; every model is "
            "evaluated on the same images."
        ),
        (
            "Estimator: log p(x) ≈ log (1/K) Σ_k p(x, z_k)/q(z_k|x), z_k ~ q(z|x) (Burda et al. "
            f"2016, eq. 8), per image, with K = {m['num_particles']} importance samples from each "
            "model's own guide; exact (K = 1) for models without latent variables. The mean of "
            "the same log-weights is the ELBO. The estimate is a stochastic lower bound of "
            "log p(x) whose bias shrinks as K grows (see the K-curves); bits/dim = "
            "−log p(x) / (D ln 2)."
        ),
        (
            "Intervals: BCa bootstrap (Efron 1987) of the mean over test images, "
            f"{m['n_resamples']} resamples, 95%; they reflect the sampling of test images "
            "together with the Monte Carlo noise of the estimator, not its bias, and not "
            "training variance (issue 19: see Models over seeds)."
        ),
        (
            "Comparisons: every pair of models on the same images, through the per-image "
            "differences; two-sided sign-flip randomisation test of the mean difference "
            f"({m['n_resamples']} resamples; Fisher 1935), Wilcoxon's signed-rank test for "
            "reference; p-values adjusted by Holm's (1979) step-down procedure over the "
            f"{m['num_comparisons']} comparisons, significance at family-wise level "
            f"α = {m['alpha']}. Models sharing a group letter are not separated by any "
            "significant comparison."
        ),
        (
            "Diagnostics: PSIS k-hat (Vehtari et al. 2024) of each image's K log-weights "
            "through ArviZ; one rule throughout (tables, figure, warnings): k-hat > "
            f"{m['khat_unreliable']} marks an unreliable estimate. Estimate against K on the "
            f"first {m['curve_images']} test images with up to {m['curve_max_particles']} "
            "samples, each point averaged over disjoint blocks of K samples. Active units: "
            f"Cov_x(E_q[z_u|x]) > {m['active_unit_threshold']} (Burda et al. 2016)."
        ),
        (
            "Training: each model was trained for the epochs stated below, with the weights of its "
            "best validation epoch kept; "
            + m.get("convergence_rule", "")
            + ". A model still falling was trained for a budget, not to convergence: its rank "
            "reflects the budget as much as the model."
        ),
        f"Seeds: importance samples and bootstrap resamples seeded with {m['seed']}. Runs: {runs}.",
        "Software: "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f". Comparison step: {m['seconds']:.1f} s.",
    ]


def render_html(results: dict, figures: Sequence[FigureFile]) -> str:
    """The whole report as one self-contained HTML page."""
    from .ais_agreement import ais_section_html  # it renders with this module's helpers
    from .seed_report import seed_section_html  # issue 19

    m = results["method"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # the page fetches nothing: a browser refuses any request but the embedded data: images
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>pgm comparison — {html.escape(m['dataset'])}</title>",
        f"<style>{STYLESHEET}</style></head><body>",
        f"<h1>Model comparison on {html.escape(m['dataset'])} "
        f"({html.escape(m['split'])} split)</h1>",
        (
            f"<p>{len(results['models'])} density models on the same {m['num_images']} "
            f"test images, K = {m['num_particles']} importance samples, "
            f"α = {m['alpha']} (Holm).</p>"
        ),
    ]
    out.append(f"<p>{html.escape(summary_sentence(results))}</p>")
    present = [(sec, t) for sec, t in SECTIONS if _shown(results, sec, figures)]
    out.append(
        "<nav>"
        + " · ".join(f'<a href="#{sec}">{html.escape(t)}</a>' for sec, t in present)
        + "</nav>"
    )
    if results.get("warnings"):
        out.append('<div class="warn"><strong>Warnings</strong><ul>')
        out += [f"<li>{html.escape(w)}</li>" for w in warning_messages(results)]
        out.append("</ul></div>")
    if results.get("notes"):
        out.append(
            "<p><strong>Notes</strong></p><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in results["notes"])
            + "</ul>"
        )
    for section, title in SECTIONS:
        figs = html_figures(figures, section)
        if section == "method":
            out.append(ais_section_html(results))
            out.append(seed_section_html(results))  # issue 19
            out.append(f'<h2 id="method">{title}</h2>')
            out += [f"<p>{html.escape(p)}</p>" for p in method_paragraphs(results)]
            continue
        if not _shown(results, section, figures):
            continue
        out.append(f'<h2 id="{section}">{html.escape(title)}</h2>')
        if section in TABLES:
            out.append(_html_table(results, section))
        if figs:
            out.append(f"<div>{figs}</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- Markdown ---------------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(results: dict, table: str) -> str:
    columns, rows = table_cells(results, table)
    if not rows:
        return "_No rows._\n"
    lines = [
        "| " + " | ".join(_md_escape(c.header) for c in columns) + " |",
        "|" + "|".join("---:" if c.fmt else "---" for c in columns) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(text) for text, _, _ in cells) + " |" for cells in rows]
    return TABLES[table].caption + "\n\n" + "\n".join(lines) + "\n"


def render_markdown(
    results: dict, figures: Sequence[FigureFile], figure_dir: str = "figures"
) -> str:
    """The report as Markdown; figures are linked from ``figure_dir`` (relative to the file)."""
    from .ais_agreement import ais_section_markdown  # it renders with this module's helpers
    from .seed_report import seed_section_markdown  # issue 19

    m = results["method"]
    out = [
        f"# Model comparison on {m['dataset']} ({m['split']} split)\n",
        (
            f"{len(results['models'])} density models on the same {m['num_images']} test images, "
            f"K = {m['num_particles']} importance samples, α = {m['alpha']} (Holm).\n"
        ),
    ]
    out.append(summary_sentence(results) + "\n")
    if results.get("warnings"):
        out.append("**Warnings**\n")
        out += [f"- {w}" for w in warning_messages(results)]
        out.append("")
    if results.get("notes"):
        out += ["**Notes**\n", *[f"- {n}" for n in results["notes"]], ""]
    for section, title in SECTIONS:
        figs = [f for f in figures if f.section == section]
        if section == "method":
            out.append(ais_section_markdown(results))
            out.append(seed_section_markdown(results))  # issue 19
            out.append(f"## {title}\n")
            out += [p + "\n" for p in method_paragraphs(results)]
            continue
        if not _shown(results, section, figures):
            continue
        out.append(f"## {title}\n")
        if section in TABLES:
            out.append(_md_table(results, section))
        out += [f"![{f.caption}]({figure_dir}/{f.name})\n" for f in figs]
    return "\n".join(out)
