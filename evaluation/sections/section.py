"""What a report section is: one unit that declares, in one place, what it computes on a
comparison, the table(s) it shows, the figures it draws and any text it adds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..tables import Table, table_cells

if TYPE_CHECKING:
    from ..comparison import Comparison
    from ..figures import FigureFile

__all__ = ["Section"]


@dataclass(frozen=True)
class Section:
    """One section of the report (``report.html``, ``report.md``).

    :param id: the anchor on the page (``#ranking``) and the ``section`` of its figures.
    :param title: its heading, and its entry in the page's navigation.
    :param tables: the tables it shows, drawn by the one renderer of :mod:`evaluation.tables`
        from the rows its ``compute`` wrote into ``results.json``.
    :param compute: ``compute(comparison)``, run once, in the order of the sections, before any
        figure is drawn: writes the section's records into ``comparison.results`` (and
        warnings, notes) from the runs and what earlier sections wrote.
    :param figures: ``figures(comparison)``: the section's figures, drawn from the records
        ``compute`` made (after every section has computed).
    :param text: ``text(results)``: paragraphs shown after the tables (from ``results.json``
        alone, so a report can be drawn again from its results).
    :param latex: the label of each table exported to ``tables.tex`` (``None``: not exported).
    :param leads: ``leads(results)``: whether the section leads the page (and ``tables.tex``)
        instead of taking its place in the list (the models over seeds, when there are seeds).
    """

    id: str
    title: str
    tables: Sequence[Table] = ()
    compute: Callable[[Comparison], None] | None = None
    figures: Callable[[Comparison], list[FigureFile]] | None = None
    text: Callable[[dict], list[str]] | None = None
    latex: Sequence[str | None] = field(default=())
    leads: Callable[[dict], bool] | None = None

    def shown(self, results: dict, figures: Sequence[FigureFile]) -> bool:
        """Whether the section has anything to show: a figure, text, or a table that is shown
        without rows or has some."""
        if self.text is not None and self.text(results):
            return True
        if any(f.section == self.id for f in figures):
            return True
        return any(not t.hide_empty or table_cells(results, t)[1] for t in self.tables)
