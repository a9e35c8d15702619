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

from .figures import FigureFile

__all__ = [
    "TABLES",
    "Column",
    "format_value",
    "render_html",
    "render_markdown",
    "resolve_path",
    "summary_sentence",
    "table_cells",
]


@dataclass(frozen=True)
class Column:
    """One table column: its header, the key in each results row, the format spec."""

    header: str
    key: str
    fmt: str = ""
    title: str = ""


# (section id, caption, results key holding the rows, row filter key or "", columns)
TABLES: dict[str, tuple[str, str, str, list[Column]]] = {
    "ranking": (
        (
            "Test log-likelihood per model, best first. Group letters: models sharing a letter are not "
            "distinguishable (Holm-adjusted paired tests); rank range: the ranks the data leave possible."
        ),
        "models",
        "",
        [
            Column("rank", "rank", "d"),
            Column("rank range", "rank_range", "d", "1 + #models significantly better … M − #models significantly worse"),
            Column("group", "group"),
            Column("model", "model"),
            Column("description", "description"),
            Column("log p(x) nats", "log_likelihood_nats", ".2f", "mean over test images of the K-sample estimate"),
            Column("95% CI", "ci95", ".2f", "BCa bootstrap interval of the mean"),
            Column("SE", "standard_error_nats", ".3f", "standard error of the mean"),
            Column("bits/dim", "bits_per_dim", ".4f"),
            Column("bits/dim 95% CI", "bits_per_dim_ci95", ".4f"),
            Column("ELBO nats", "elbo_nats", ".2f"),
            Column("gap nats", "gap_nats", ".2f", "log p(x) − ELBO: the inference gap the K samples close"),
            Column("K", "num_particles", "d"),
        ],
    ),
    "comparisons": (
        (
            "Paired comparisons on the same test images: mean of log p_a(x) − log p_b(x) (a is the better "
            "mean), its BCa 95% interval, the sign-flip randomisation test p-value (a Monte Carlo p-value: "
            "never below 1/(R+1) for R resamples), Holm-adjusted, and Wilcoxon's signed-rank p-value for "
            "reference."
        ),
        "comparisons",
        "",
        [
            Column("a", "a"),
            Column("b", "b"),
            Column("mean difference nats", "mean_difference_nats", ".2f"),
            Column("95% CI", "ci95", ".2f"),
            Column("a better on", "fraction_a_better", ".2f", "fraction of test images where a scores higher"),
            Column("p (sign-flip)", "p_value", ".3g"),
            Column("p Holm", "p_value_adjusted", ".3g"),
            Column("p (Wilcoxon)", "p_value_wilcoxon", ".3g"),
            Column("different", "significant"),
        ],
    ),
    "importance": (
        (
            "Importance-sampling diagnostics per latent model, over the test images: PSIS k-hat (Vehtari "
            "et al. 2024; > 0.7 unreliable) and Kish's effective sample size of the K weights."
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
    "latent": (
        (
            "VAE diagnostics: rate (KL, nats) and distortion (−E_q log p(x|z), nats), their sum the "
            "negative ELBO (Alemi et al. 2018); active units: Cov_x(E_q[z_u|x]) > 0.01 (Burda et al. 2016)."
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
    "representation": (
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
    ``[a, b]`` (each element with ``fmt``), numbers with ``fmt``, anything else as ``str``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v, fmt) for v in value) + "]"
    if isinstance(value, int | float) and fmt:
        if isinstance(value, float) and math.isnan(value):
            return "—"
        return format(value, fmt)
    return str(value)


def resolve_path(results: dict, path: str):
    """The value at ``path`` (``"models/0/ci95"``) in the results."""
    node = results
    for part in path.split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def table_cells(results: dict, table: str) -> tuple[list[Column], list[list[tuple[str, str, str]]]]:
    """The columns of ``table`` and its rows of cells ``(text, data-path, format)``."""
    _, key, only, columns = TABLES[table]
    rows = []
    for i, row in enumerate(results.get(key, [])):
        if only and not row.get(only):
            continue
        rows.append([(format_value(row.get(c.key), c.fmt), f"{key}/{i}/{c.key}", c.fmt) for c in columns])
    return columns, rows


# -- HTML -------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td.text{text-align:left}
caption{caption-side:top;text-align:left;color:#555;padding:.3em 0;white-space:normal}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.6em 1em;border-radius:4px}
.warn li{margin:.2em 0}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figcaption{font-size:.85em;color:#555;max-width:520px}
img{image-rendering:pixelated;max-width:100%}
code{background:#f5f5f5;padding:0 .2em}
nav{font-size:.9em;margin:.5em 0 1em}nav a{color:#2a5db0;text-decoration:none}
"""


_TEXT_CLASS = {False: "", True: ' class="text"'}  # unformatted cells (names, words) align left


def _html_table(results: dict, table: str) -> str:
    caption = TABLES[table][0]
    columns, rows = table_cells(results, table)
    if not rows:
        return "<p><em>No rows.</em></p>"
    head = "".join(
        f'<th title="{html.escape(c.title)}">{html.escape(c.header)}</th>' if c.title else f"<th>{html.escape(c.header)}</th>"
        for c in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td{_TEXT_CLASS[not fmt]} data-path="{html.escape(path)}" data-format="{html.escape(fmt)}">{html.escape(text)}</td>'
            for text, path, fmt in cells
        )
        + "</tr>"
        for cells in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_figures(figures: Sequence[FigureFile], section: str) -> str:
    parts = []
    for f in figures:
        if f.section != section:
            continue
        data = base64.b64encode(f.png).decode("ascii")
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(f.caption)}" '
            f'data-name="{html.escape(f.name)}"><figcaption>{html.escape(f.caption)}</figcaption></figure>'
        )
    return "\n".join(parts)


def summary_sentence(results: dict) -> str:
    """One sentence: the best model(s) and how many differences the data support."""
    rows = results["models"]
    if not rows:
        return "No density model was evaluated."
    top = [r["model"] for r in rows if r["rank_range"][0] == 1]
    comps = results["comparisons"]
    different = sum(c["significant"] for c in comps)
    best = (
        f"Best mean log-likelihood: {rows[0]['model']} ({format_value(rows[0]['log_likelihood_nats'], '.2f')} nats, "
        f"{format_value(rows[0]['bits_per_dim'], '.4f')} bits/dim)"
    )
    if len(top) > 1:
        best += f"; not distinguishable from it: {', '.join(t for t in top if t != rows[0]['model'])}"
    return f"{best}. {different} of {len(comps)} pairwise differences are significant."


def method_paragraphs(results: dict) -> list[str]:
    """The method section as plain-text paragraphs (shared by the HTML and Markdown reports)."""
    m = results["method"]
    runs = "; ".join(f"{name}: {r['architecture']}, seed {r['seed']}, {r['epochs']} epochs" for name, r in m["runs"].items())
    return [
        (
            f"Test set: the {m['split']} split of {m['dataset']}, {m['num_images']} images of "
            f"{m['num_dims']} dimensions with {m['num_levels']} levels each; every model is evaluated "
            "on the same images."
        ),
        (
            "Estimator: log p(x) ≈ log (1/K) Σ_k p(x, z_k)/q(z_k|x), z_k ~ q(z|x) (Burda et al. 2016, "
            f"eq. 8), per image, with K = {m['num_particles']} importance samples from each model's own "
            "guide; exact (K = 1) for models without latent variables. The mean of the same log-weights "
            "is the ELBO. The estimate is a stochastic lower bound of log p(x) whose bias shrinks as K "
            "grows (see the K-curves); bits/dim = −log p(x) / (D ln 2)."
        ),
        (
            f"Intervals: BCa bootstrap (Efron 1987) of the mean over test images, {m['n_resamples']} "
            "resamples, 95%; they reflect the sampling of test images together with the Monte Carlo "
            "noise of the estimator, not its bias."
        ),
        (
            "Comparisons: every pair of models on the same images, through the per-image differences; "
            f"two-sided sign-flip randomisation test of the mean difference ({m['n_resamples']} "
            "resamples; Fisher 1935), Wilcoxon's signed-rank test for reference; p-values adjusted by "
            f"Holm's (1979) step-down procedure over the {m['num_comparisons']} comparisons, "
            f"significance at family-wise level α = {m['alpha']}. Models sharing a group letter are not "
            "separated by any significant comparison."
        ),
        (
            f"Diagnostics: PSIS k-hat (Vehtari et al. 2024) of each image's K log-weights through ArviZ; "
            f"> {m['khat_unreliable']} marks an unreliable estimate (the K-dependent threshold "
            f"min(1 − 1/log10 K, 0.7) is {m['khat_threshold_for_K']:.2f} here). Estimate against K on "
            f"the first {m['curve_images']} test images with up to {m['curve_max_particles']} samples, "
            "each point averaged over disjoint blocks of K samples. Active units: "
            f"Cov_x(E_q[z_u|x]) > {m['active_unit_threshold']} (Burda et al. 2016)."
        ),
        f"Seeds: importance samples and bootstrap resamples seeded with {m['seed']}. Runs: {runs}.",
        "Software: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + f". Comparison step: {m['seconds']:.1f} s.",
    ]


def render_html(results: dict, figures: Sequence[FigureFile]) -> str:
    """The whole report as one self-contained HTML page."""
    from .ais_agreement import ais_section_html  # it renders with this module's helpers
    m = results["method"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>pgm comparison — {html.escape(m['dataset'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Model comparison on {html.escape(m['dataset'])} ({html.escape(m['split'])} split)</h1>",
        (
            f"<p>{len(results['models'])} density models on the same {m['num_images']} test images, "
            f"K = {m['num_particles']} importance samples, α = {m['alpha']} (Holm).</p>"
        ),
    ]
    out.append(f"<p>{html.escape(summary_sentence(results))}</p>")
    present = [(sec, t) for sec, t in SECTIONS if sec in TABLES or sec == "method" or any(f.section == sec for f in figures)]
    out.append("<nav>" + " · ".join(f'<a href="#{sec}">{html.escape(t)}</a>' for sec, t in present) + "</nav>")
    if results.get("warnings"):
        out.append('<div class="warn"><strong>Warnings</strong><ul>')
        out += [f"<li>{html.escape(w)}</li>" for w in results["warnings"]]
        out.append("</ul></div>")
    for section, title in SECTIONS:
        figs = _html_figures(figures, section)
        if section == "method":
            out.append(ais_section_html(results))
            out.append(f'<h2 id="method">{title}</h2>')
            out += [f"<p>{html.escape(p)}</p>" for p in method_paragraphs(results)]
            continue
        if section not in TABLES and not figs:
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
    return TABLES[table][0] + "\n\n" + "\n".join(lines) + "\n"


def render_markdown(results: dict, figures: Sequence[FigureFile], figure_dir: str = "figures") -> str:
    """The report as Markdown; figures are linked from ``figure_dir`` (relative to the file)."""
    from .ais_agreement import ais_section_markdown  # it renders with this module's helpers
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
        out += [f"- {w}" for w in results["warnings"]]
        out.append("")
    for section, title in SECTIONS:
        figs = [f for f in figures if f.section == section]
        if section == "method":
            out.append(ais_section_markdown(results))
            out.append(f"## {title}\n")
            out += [p + "\n" for p in method_paragraphs(results)]
            continue
        if section not in TABLES and not figs:
            continue
        out.append(f"## {title}\n")
        if section in TABLES:
            out.append(_md_table(results, section))
        out += [f"![{f.caption}]({figure_dir}/{f.name})\n" for f in figs]
    return "\n".join(out)
