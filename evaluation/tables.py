"""The report's tables: what a table is (:class:`Table` of :class:`Column`), how a cell's text is
made from ``results.json`` (:func:`format_value`, :func:`resolve_path`, :func:`table_cells`), and
the one renderer that draws any table as HTML, Markdown or LaTeX (booktabs).

Every number in a table is written by :func:`format_value` from the value in the results, and
each HTML cell names where it came from (``data-path="models/0/ci95"``) and how it was
formatted (``data-format=".2f"``), so a test, or a sceptical reader, can check the page
against ``results.json`` cell by cell.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "Column",
    "Table",
    "format_value",
    "html_table",
    "latex_table",
    "markdown_table",
    "resolve_path",
    "table_cells",
]


@dataclass(frozen=True)
class Column:
    """One table column: its header, the key in each results row, the format spec."""

    header: str
    key: str
    fmt: str = ""
    title: str = ""


class Table(NamedTuple):
    """One table of the report: its caption, the path in ``results.json`` of its rows
    (``"models"``, ``"ais/models"``), the key a row must have set to be shown (``""``: every
    row), its columns, and whether a table without rows is left out (``True``) or says so."""

    caption: str
    rows: str
    only: str
    columns: list[Column]
    hide_empty: bool = False


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


def table_cells(
    results: dict, table: Table
) -> tuple[list[Column], list[list[tuple[str, str, str]]]]:
    """The columns of ``table`` and its rows of cells ``(text, data-path, format)``."""
    rows = []
    for i, row in enumerate(resolve_path(results, table.rows) or []):
        if table.only and not row.get(table.only):
            continue
        path = f"{table.rows}/{i}"
        rows.append(
            [
                (format_value(resolve_path(row, c.key), c.fmt), f"{path}/{c.key}", c.fmt)
                for c in table.columns
            ]
        )
    return table.columns, rows


# -- HTML -------------------------------------------------------------------------------------
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


def html_table(results: dict, table: Table) -> str:
    """``table`` as an HTML ``<table>`` in a horizontally scrolling box (a narrow window
    scrolls the table, never clips it); ``""`` or a "No rows." line when it has no rows."""
    columns, rows = table_cells(results, table)
    if not rows:
        return "" if table.hide_empty else "<p><em>No rows.</em></p>"
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
        f'<div class="table-box"><table><caption>{html.escape(table.caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


# -- Markdown ---------------------------------------------------------------------------------
def md_text(text: str) -> str:
    """Text for Markdown: ``<`` as ``&lt;``, so no name (a run folder called
    ``<img src=x onerror=...>``) becomes HTML where the Markdown is rendered."""
    return text.replace("<", "&lt;")


def printable(text: str) -> str:
    """``text`` with control characters escaped as Python writes them (``\\n``, ``\\t``,
    ``\\x1b``): a newline, a tab or an escape code in a run folder's name would split a table's
    row or colour a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _md_escape(text: str) -> str:
    return md_text(printable(text)).replace("|", "\\|")


def markdown_table(results: dict, table: Table) -> str:
    """``table`` as a Markdown pipe table after its caption; ``""`` or ``_No rows._``."""
    columns, rows = table_cells(results, table)
    if not rows:
        return "" if table.hide_empty else "_No rows._\n"
    lines = [
        "| " + " | ".join(_md_escape(c.header) for c in columns) + " |",
        "|" + "|".join("---:" if c.fmt else "---" for c in columns) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(text) for text, _, _ in cells) + " |" for cells in rows]
    return table.caption + "\n\n" + "\n".join(lines) + "\n"


# -- LaTeX (booktabs) -------------------------------------------------------------------------
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # OT1, LaTeX's default font encoding, prints these three as ¡ ¿ — and a backtick as ‘
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "`": r"\textasciigrave{}",
    "−": "$-$",
    "—": "---",
    "…": r"\ldots{}",
    "α": r"$\alpha$",
}


def _latex_escape(text: str) -> str:
    # control characters as Python writes them first (a newline in a run's name split its
    # table cell), then LaTeX's special characters (the backslash of \n among them)
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in printable(text))


def latex_table(results: dict, table: Table, label: str) -> str:
    """``table`` as a LaTeX ``table`` float with a booktabs ``tabular`` (``\\toprule``,
    ``\\midrule``, ``\\bottomrule``; needs ``\\usepackage{booktabs}``), its caption, and
    ``\\label{tab:label}``; ``""`` when it has no rows."""
    columns, rows = table_cells(results, table)
    if not rows:
        return ""
    spec = "".join("r" if c.fmt else "l" for c in columns)
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        rf"\caption{{{_latex_escape(table.caption)}}}",
        rf"\label{{tab:{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_latex_escape(c.header) for c in columns) + r" \\",
        r"\midrule",
        *(" & ".join(_latex_escape(text) for text, _, _ in cells) + r" \\" for cells in rows),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"
