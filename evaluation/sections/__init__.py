"""The sections of a comparison report, in the order they compute and (but for one that leads:
:func:`page_order`) the page shows them.

A section is a :class:`~.section.Section`: its id and title, its tables (drawn by the one
renderer of :mod:`evaluation.tables` for HTML, Markdown and LaTeX), its ``compute`` (writes its
records into ``results.json``), its ``figures`` (drawn from those records) and its text. The
page's navigation, headings, tables and figures all come from this list.

To add a section: write one module here defining a ``Section`` (its computation, table(s),
figures and text together), put its sentences of warning in :mod:`evaluation.warnings_text`,
and add it to :data:`SECTIONS` below at the place it belongs (``compute`` sees what the
sections before it wrote). Nothing else changes: ``compare_runs`` runs every section's
``compute`` and ``figures``, and both renderers draw every section.
"""

from __future__ import annotations

from . import (
    ais,
    comparisons,
    grids,
    importance,
    latent,
    method,
    models,
    ranking,
    representation,
    seeds,
    training,
)
from .section import Section

__all__ = ["SECTIONS", "Section", "TABLES", "page_order"]

SECTIONS: list[Section] = [
    ranking.SECTION,
    models.MODELS,
    models.NO_DENSITY,
    comparisons.SECTION,
    importance.SECTION,
    latent.SECTION,
    representation.SECTION,
    grids.SAMPLES,
    grids.RECONSTRUCTIONS,
    grids.TRAVERSALS,
    grids.INTERPOLATIONS,
    grids.COMPLETIONS,
    training.SECTION,
    ais.SECTION,
    seeds.SECTION,
    method.SECTION,
]


def page_order(results: dict) -> list[Section]:
    """The sections in the order the page (and ``tables.tex``) shows them: those that lead for
    these results (:attr:`Section.leads`: the models over seeds, when some model has seeds)
    first, then the others in the order of :data:`SECTIONS`."""
    lead = [s for s in SECTIONS if s.leads is not None and s.leads(results)]
    return lead + [s for s in SECTIONS if s not in lead]


#: section id -> its (first) table, for tests and tools that read one table by name
TABLES = {s.id: s.tables[0] for s in SECTIONS if s.tables}
