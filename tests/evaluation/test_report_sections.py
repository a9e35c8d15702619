"""The report as sections: one registry draws the page's navigation, headings, tables (one
renderer for HTML, Markdown and LaTeX) and text; warnings come one per kind. Synthetic results,
no training: each test runs in well under a second."""

from __future__ import annotations

import re

import pytest

from evaluation import report, sections
from evaluation.sections import SECTIONS, Section
from evaluation.sections.latent import collapse_record
from evaluation.tables import Column, Table
from evaluation.warning_record import warning_record
from evaluation.warnings_text import khat_unreliable, warning_messages

MODELS = ["pixel_cnn", "vae", "vae-vamp"]


def _results() -> dict:
    rows = [
        {
            "model": name,
            "rank": i + 1,
            "rank_range": [i + 1, i + 1],
            "group": "abc"[i],
            "log_likelihood_nats": -90.0 - 3 * i,
            "ci95": [-91.0 - 3 * i, -89.0 - 3 * i],
            "bits_per_dim": 2.0 + 0.1 * i,
            "has_latents": name != "pixel_cnn",
            "rate_nats": 0.29 if name == "vae" else 12.0,
            "active_units": 4,
            "latent_dim": 8,
            "psis_khat_max": 0.9,
        }
        for i, name in enumerate(MODELS)
    ]
    comparisons = [
        {"a": a, "b": b, "mean_difference_nats": 3.0, "ci95": [2.0, 4.0], "significant": True}
        for i, a in enumerate(MODELS)
        for b in MODELS[i + 1 :]
    ]
    method = {
        "dataset": "digits",
        "split": "test",
        "num_images": 40,
        "num_dims": 64,
        "num_levels": 17,
        "num_particles": 20,
        "seed": 0,
        "alpha": 0.05,
        "n_resamples": 99,
        "num_comparisons": 3,
        "khat_unreliable": 0.7,
        "curve_images": 4,
        "curve_max_particles": 50,
        "active_unit_threshold": 0.01,
        "convergence_rule": "a rule",
        "runs": {},
        "versions": {"pgm": "0"},
        "seconds": 1.0,
    }
    return {
        "models": rows,
        "comparisons": comparisons,
        "representation": [],
        "models_without_density": [],
        "warnings": [],
        "notes": [],
        "method": method,
    }


def test_sections_have_unique_ids_and_every_table_a_caption_and_columns():
    ids = [s.id for s in SECTIONS]
    assert len(ids) == len(set(ids))
    assert ids[0] == "ranking" and ids[-1] == "method" and "ais" in ids
    for section in SECTIONS:
        for table in section.tables:
            assert table.caption and table.columns, section.id


def test_one_renderer_draws_every_section_in_html_markdown_and_navigation():
    results = _results()
    page = report.render_html(results, [])
    md = report.render_markdown(results, [])
    for section in SECTIONS:
        shown = section.shown(results, [])
        assert (f'<a href="#{section.id}">' in page) == shown, section.id
        assert (f'<h2 id="{section.id}">' in page) == shown, section.id
        assert (f"## {section.title}\n" in md) == shown, section.id
    # every ranking row's number is on the page with its source path
    for i, row in enumerate(results["models"]):
        assert f'data-path="models/{i}/log_likelihood_nats"' in page
        assert f"| {report.format_value(row['log_likelihood_nats'], '.2f')} |" in md
    # a wide table scrolls in its own box instead of being clipped by a narrow window
    assert page.count('<div class="table-box">') == page.count("<table>")


def test_a_new_section_is_one_unit(monkeypatch):
    """How another engineer adds a section: one Section (its computation, table, text) in the
    registry; both renderers, the navigation and the LaTeX export take it from there."""
    results = _results()

    def compute(c):  # what a section's computation does: write its rows into the results
        c.results["spread"] = [{"model": "vae", "share": 0.25}]

    table = Table(
        "Share of the variance from seeds.",
        "spread",
        "",
        [Column("model", "model"), Column("seed share", "share", ".2f")],
    )
    extra = Section(
        "spread", "Spread", tables=[table], compute=compute, text=lambda r: ["Spread."], latex=["s"]
    )
    monkeypatch.setattr(sections, "SECTIONS", [*SECTIONS[:-1], extra, SECTIONS[-1]])

    class _C:
        pass

    c = _C()
    c.results = results
    extra.compute(c)
    page = report.render_html(results, [])
    assert '<a href="#spread">Spread</a>' in page and '<h2 id="spread">Spread</h2>' in page
    assert 'data-path="spread/0/share" data-format=".2f">0.25</td>' in page
    assert page.index('id="spread"') < page.index('id="method"')
    assert "| vae | 0.25 |" in report.render_markdown(results, [])
    assert r"\label{tab:s}" in report.render_latex(results)


def test_latex_export_has_booktabs_rules_and_every_row():
    results = _results()
    tex = report.render_latex(results)
    assert tex.count(r"\toprule") == 2 and tex.count(r"\midrule") == 2
    assert tex.count(r"\bottomrule") == 2
    assert r"\label{tab:ranking}" in tex and r"\label{tab:comparisons}" in tex
    body = tex.split(r"\label{tab:comparisons}")[0]
    for i, name in enumerate(MODELS):
        latex_name = name.replace("_", r"\_")
        # one row per model, starting with its rank, with its estimate (true minus as $-$)
        assert re.search(rf"^{i + 1} & .*{re.escape(latex_name)} & \$-\$9\d\.00 ", body, re.M)
    rows = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert len(rows) == 2 + len(MODELS) + len(results["comparisons"])  # headers + rows
    assert "_" not in tex.replace(r"\_", "")  # every underscore escaped


def test_warnings_come_one_per_kind_naming_every_model():
    results = _results()
    for name in MODELS[1:]:
        results["warnings"].append(
            warning_record(
                "khat-unreliable",
                name,
                "psis_khat_unreliable_fraction",
                0.05,
                0.7,
                khat_unreliable(name, 0.05, 0.9),
            )
        )
    results["warnings"].append(collapse_record("vae", 0.29, 4, 8))
    messages = warning_messages(results)
    assert len(messages) == 2
    khat = messages[0]
    assert "vae (5.0% of images, max 0.90)" in khat and "vae-vamp" in khat
    assert khat.count("Vehtari") == 1  # the explanation once, not once per model
    assert "partial posterior collapse" in messages[1] and "4 of 8" in messages[1]
    page = report.render_html(results, [])
    assert page.count("<li>") == 2


@pytest.mark.parametrize(
    ("rate", "active", "dim", "code"),
    [(0.29, 4, 8, "partial-collapse"), (0.0, 0, 8, "posterior-collapse"), (15.0, 6, 8, None)],
)
def test_collapse_record_for_synthetic_diagnostics(rate, active, dim, code):
    record = collapse_record("pixelvae", rate, active, dim)
    assert (record and record["code"]) == code
    if code:
        assert record["model"] == "pixelvae" and f"{active} of {dim}" in record["message"]


def test_plugin_parts_are_described_by_their_registered_description():
    """A plug-in prior without describe() is named in the report by the description it was
    registered with, not its class name; a part that describes itself keeps its own words."""
    from torch import nn

    from evaluation.compared_run import _registered_descriptions
    from pgm.registry import PRIORS

    class StudentTPrior(nn.Module):
        pass

    class Model(nn.Module):
        def describe(self) -> str:
            return "StudentTPrior, diagonal-Gaussian guide"

    model = Model()
    model.prior = StudentTPrior()
    PRIORS.register("test-student-t", "Student-t prior (3 degrees of freedom)")(lambda cfg: None)
    try:
        text = _registered_descriptions(model.describe(), model, {"prior": "test-student-t"})
    finally:
        PRIORS.unregister("test-student-t")
    assert text == "Student-t prior (3 degrees of freedom), diagonal-Gaussian guide"


def test_provenance_and_probe_column():
    from evaluation.provenance import command_line, hardware, made_at
    from evaluation.sections import TABLES

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", made_at())
    assert hardware()["cpu"] and hardware()["cpu_cores"] >= 1
    assert command_line(["/usr/bin/pgm", "compare", "a b"]) == "pgm compare 'a b'"
    headers = [c.header for c in TABLES["representation"].columns]
    assert "probe converged" in headers and "converged" not in headers


def test_markdown_never_turns_a_run_name_into_html():
    """A run folder named like an HTML tag stays text in report.md (report.html escapes it)."""
    results = _results()
    hostile = "<img src=x onerror=alert(1)>"
    for row in results["models"]:
        if row["model"] == "vae":
            row["model"] = hostile
    md = report.render_markdown(results, [])
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)>" in md
    assert "<img" not in report.render_html(results, [])


def test_latex_escapes_what_its_default_font_would_misprint():
    """``<``, ``>``, ``|`` and a backtick in a run's name (and ``P(a > b)``) printed as ¡ ¿ —
    ‘ with LaTeX's default OT1 encoding: they are text commands now."""
    results = _results()
    results["models"][0]["model"] = "a<b>|`c"
    tex = report.render_latex(results)
    assert r"a\textless{}b\textgreater{}\textbar{}\textasciigrave{}c" in tex
    body = "\n".join(line for line in tex.splitlines() if line.endswith(r"\\"))
    assert not {"<", ">", "|", "`"} & set(body)


def test_a_dollar_in_a_name_is_drawn_literally():
    """Runs named ``p$\\frac$q`` crashed the forest plot in matplotlib's mathtext parser (and
    ``a$x$`` was drawn as a formula): names are drawn as text."""
    from evaluation.figures import forest_plot, plain, seed_forest_plot

    assert plain("a$x$") == r"a\$x\$"
    names = ["p$\\frac$q", "m$^{$"]
    rows = [
        {"model": n, "group": "a", "log_likelihood_nats": -90.0 - i, "ci95": [-91.0 - i, -89.0 - i]}
        for i, n in enumerate(names)
    ]
    png = forest_plot(rows)
    models = [
        {
            "model": n,
            "num_seeds": 2,
            "mean": -90.0,
            "ci95": [-91.0, -89.0],
            "seed_means": [-90.2, -89.8],
        }
        for n in names
    ]
    png2 = seed_forest_plot(models)
    assert png.startswith(b"\x89PNG") and png2.startswith(b"\x89PNG")


def test_a_long_name_gets_a_figure_file_name_the_file_system_takes():
    """A 250-character run folder name failed `pgm compare` at its last step ("File name too
    long" for figures/samples-NAME.png): long names are cut and told apart by a hash."""
    from evaluation.sections.grids import figure_file

    assert figure_file("samples", "vae") == "samples-vae.png"
    long_a, long_b = "é" * 200 + "a", "é" * 200 + "b"
    a, b = figure_file("samples", long_a), figure_file("samples", long_b)
    assert a != b and len(a.encode()) <= 200 and a.startswith("samples-éé")


def test_a_newline_in_a_name_stays_in_its_latex_cell():
    """A run folder named ``line1\\nline2`` put a real newline inside a cell of tables.tex:
    control characters are written as Python writes them, as in Markdown and the console."""
    results = _results()
    results["models"][0]["model"] = "line1\nline2"
    tex = report.render_latex(results)
    assert r"line1\textbackslash{}nline2" in tex and "line1\nline2" not in tex
