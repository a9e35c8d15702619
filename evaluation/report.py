"""Rendering ``results.json`` and the figures as ``report.html`` (one self-contained page, every
figure embedded as a base64 data URI, readable offline), ``report.md`` and ``tables.tex`` (the
models over seeds, the ranking and paired comparisons as LaTeX booktabs tables, for a paper).

The page is drawn from :data:`~.sections.SECTIONS` in :func:`~.sections.page_order`: each
section's heading, navigation entry, tables (all through the one renderer of :mod:`.tables`),
figures and text. The warnings are one item per kind (:func:`~.warnings_text.warning_messages`).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from .figures import FigureFile
from .sections import TABLES, Section, page_order
from .tables import (
    Column,
    Table,
    format_value,
    html_table,
    latex_table,
    markdown_table,
    md_text,
    resolve_path,
)
from .tables import table_cells as _table_cells
from .warnings_text import warning_messages

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "STYLESHEET",
    "TABLES",
    "Column",
    "Table",
    "format_value",
    "html_figures",
    "render_html",
    "render_latex",
    "render_markdown",
    "resolve_path",
    "summary_sentence",
    "table_cells",
    "warning_messages",
]


def table_cells(results: dict, table: str | Table):
    """The columns of ``table`` (a :class:`Table`, or a section's id in :data:`TABLES`) and its
    rows of cells ``(text, data-path, format)``."""
    return _table_cells(results, TABLES[table] if isinstance(table, str) else table)


# -- HTML -------------------------------------------------------------------------------------
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
.table-box{max-width:100%;overflow-x:auto}
.figures{display:flex;flex-wrap:wrap;align-items:flex-start}
@media (max-width:960px){
body{padding:0 .5em}
table{font-size:.72em}th,td{padding:.15em .25em}td.interval{min-width:4.8em}
}
@media print{
@page{size:A4;margin:12mm}
body{max-width:none;margin:0;padding:0;font-size:9pt;display:flex;flex-direction:column}
body>*{order:0}section.grids{order:1}
table{font-size:7pt}th,td{padding:.1em .25em}
tr,figure,.warn{break-inside:avoid}h2{break-after:avoid;margin-top:1.2em}
nav{display:none}figcaption{max-width:none;font-size:6.5pt;line-height:1.25}
.table-box{overflow:visible}
.figures{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:2mm 4mm}
section.grids .figures{grid-template-columns:repeat(4,minmax(0,1fr))}
figure{display:block;margin:0;max-width:none}
figure img{width:100%;height:auto;max-height:95mm;object-fit:contain}
}
"""


#: no scripts, no fonts, no requests: inline styles and data: images only
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


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


def summary_sentence(results: dict) -> str:
    """One sentence: the best model(s) and how many differences the data support."""
    if isinstance(results.get("seeds"), dict):  # issue 19: what holds over seeds leads
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


def _html_head(results: dict) -> list[str]:
    m = results["method"]
    return [
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
        f"<p>{html.escape(summary_sentence(results))}</p>",
    ]


def _html_section(section: Section, results: dict, figures: Sequence[FigureFile]) -> list[str]:
    # a section of figures only (image grids, training curves) goes after the tables on paper
    kind = "tables" if section.tables or section.text else "grids"
    out = [f'<section class="{kind}">', f'<h2 id="{section.id}">{html.escape(section.title)}</h2>']
    out += [html_table(results, t) for t in section.tables]
    if section.text is not None:
        out += [f"<p>{html.escape(p)}</p>" for p in section.text(results)]
    figs = html_figures(figures, section.id)
    if figs:
        out.append(f'<div class="figures">{figs}</div>')
    return [*out, "</section>"]


def render_html(results: dict, figures: Sequence[FigureFile]) -> str:
    """The whole report as one self-contained HTML page."""
    out = _html_head(results)
    present = [s for s in page_order(results) if s.shown(results, figures)]
    out.append(
        "<nav>"
        + " · ".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in present)
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
    for section in present:
        out += _html_section(section, results, figures)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- Markdown ---------------------------------------------------------------------------------
def render_markdown(
    results: dict, figures: Sequence[FigureFile], figure_dir: str = "figures"
) -> str:
    """The report as Markdown; figures are linked from ``figure_dir`` (relative to the file)."""
    m = results["method"]
    out = [
        f"# Model comparison on {m['dataset']} ({m['split']} split)\n",
        (
            f"{len(results['models'])} density models on the same {m['num_images']} test images, "
            f"K = {m['num_particles']} importance samples, α = {m['alpha']} (Holm).\n"
        ),
        md_text(summary_sentence(results)) + "\n",
    ]
    if results.get("warnings"):
        out += ["**Warnings**\n", *[f"- {md_text(w)}" for w in warning_messages(results)], ""]
    if results.get("notes"):
        out += ["**Notes**\n", *[f"- {md_text(n)}" for n in results["notes"]], ""]
    for section in page_order(results):
        if not section.shown(results, figures):
            continue
        out.append(f"## {section.title}\n")
        out += [markdown_table(results, t) for t in section.tables]
        if section.text is not None:
            out += [md_text(p) + "\n" for p in section.text(results)]
        out += [
            f"![{md_text(f.caption)}]({figure_dir}/{f.name})\n"
            for f in figures
            if f.section == section.id
        ]
    return "\n".join(out)


# -- LaTeX ------------------------------------------------------------------------------------
def render_latex(results: dict) -> str:
    """The tables a paper takes (the ranking, the paired comparisons: each section's tables
    with a ``latex`` label) as LaTeX booktabs floats, for ``tables.tex`` beside ``report.md``."""
    parts = [
        "% pgm comparison tables; needs \\usepackage{booktabs}\n"
        f"% {results['method']['dataset']} ({results['method']['split']} split)\n"
    ]
    for section in page_order(results):
        for table, label in zip(section.tables, section.latex, strict=False):
            if label:
                parts.append(latex_table(results, table, label))
    return "\n".join(p for p in parts if p)
