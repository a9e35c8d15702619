"""The ranking ``pgm suite`` and ``pgm compare`` print: intervals, tie groups, the significant
comparisons of the trained networks, the summary over seeds and the warnings."""

from __future__ import annotations

import unicodedata

__all__ = ["print_ranking"]


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide and full-width characters take
    two; combining marks and invisible format characters (a zero-width space or joiner) none
    (``len`` would shift the row after a CJK model name)."""
    return sum(
        0
        if unicodedata.category(c) in ("Mn", "Me", "Cf")
        else 2
        if unicodedata.east_asian_width(c) in "WF"
        else 1
        for c in text
    )


def _number(value: float, spec: str) -> str:
    """``value`` in ``spec`` (e.g. ``.2f``), or in 4 significant digits with an exponent when
    fixed point would print more than 14 digits (a diverged run's ELBO, not a 300-digit cell)."""
    return f"{value:.4g}" if abs(value) >= 1e12 else f"{value:{spec}}"


def _pad(text: str, width: int, left: bool) -> str:
    fill = " " * (width - _width(text))
    return text + fill if left else fill + text


def _print_table(header: tuple[str, ...], lines: list[tuple[str, ...]], names: int) -> None:
    """Rows under ``header``, each column as wide as its widest cell (wide numbers never run
    into their neighbours); the first ``names`` columns left-aligned, numbers right-aligned (in
    terminal columns: a CJK name is twice its length)."""
    widths = [max(_width(c) for c in column) for column in zip(header, *lines, strict=True)]
    for line in (header, *lines):
        cells = [_pad(c, w, i < names) for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        print("  ".join(cells).rstrip())


def _interval(ci) -> str:
    return f"[{_number(ci[0], '.2f')}, {_number(ci[1], '.2f')}]" if ci else ""


def _print_models_over_seeds(seeds: dict) -> None:
    """The models over their seeds, best first: what a claim about models rests on."""
    from evaluation.tables import printable

    print("models over seeds (the training run is the unit; two-level 95% CI):")
    header = ("rank", "group", "model", "seeds", "log p(x) nats", "95% CI", "seed sd", "parameters")
    lines = []
    for m in seeds["models"]:
        params = (m.get("equal_terms") or {}).get("parameters")
        lines.append(
            (
                "" if m.get("rank") is None else str(m["rank"]),
                m.get("group") or "",
                printable(str(m["model"])),
                str(m["num_seeds"]),
                _number(m["mean"], ".2f"),
                _interval(m.get("ci95")),
                "" if m.get("seed_sd") is None else _number(m["seed_sd"], ".3f"),
                "" if params is None else str(params),
            )
        )
    _print_table(header, lines, 3)
    print("trained networks (one run each):")


def print_ranking(results: dict) -> None:
    """The models over seeds when some model has two seeds or more; the ranking of the trained
    networks with intervals and tie groups, their significant comparisons (one run each:
    training variance not included; two seeds of one model are not tested against each other),
    the page's summary (what holds over seeds, issue 19) and the warnings."""
    from evaluation.tables import printable  # here: `pgm --help` imports no torch

    seeds = results.get("seeds") if isinstance(results, dict) else None
    if isinstance(seeds, dict) and seeds.get("unit") != "network" and seeds.get("models"):
        _print_models_over_seeds(seeds)
    rows = results["models"] if isinstance(results, dict) else results
    rows = sorted(rows, key=lambda r: r.get("rank", 0) or -r["log_likelihood_nats"])
    header = ("rank", "group", "model", "log p(x) nats", "95% CI", "bits/dim", "ELBO nats", "k-hat")
    lines = []
    for r in rows:
        lines.append(
            (
                str(r.get("rank", "")),
                str(r.get("group", "")),
                printable(str(r["model"])),
                _number(r["log_likelihood_nats"], ".2f"),
                _interval(r.get("ci95")),
                _number(r["bits_per_dim"], ".4f"),
                "" if r.get("elbo_nats") is None else _number(r["elbo_nats"], ".2f"),
                "" if r.get("psis_khat") is None else _number(r["psis_khat"], ".2f"),
            )
        )
    _print_table(header, lines, 3)
    if not isinstance(results, dict):
        return
    comparisons = results.get("comparisons", [])
    if comparisons:
        alpha = results.get("method", {}).get("alpha", 0.05)
        different = [c for c in comparisons if c["significant"]]
        untested = results.get("seed_pairs_not_compared") or 0
        print(
            f"{len(different)} of {len(comparisons)} pairwise differences between these trained "
            f"networks significant (Holm, alpha = {alpha}; one run each, training variance not "
            "included"
            + (
                f"; the {untested} pair(s) of seeds of one model not tested: their difference "
                "is training variance"
                if untested
                else ""
            )
            + "):"
        )
        for c in different:
            print(
                f"  {printable(str(c['a']))} > {printable(str(c['b']))}: "
                f"{_number(c['mean_difference_nats'], '.2f')} nats "
                f"{_interval(c['ci95'])}, p_Holm = {c['p_value_adjusted']:.3g}"
            )
    from evaluation.report import summary_sentence
    from evaluation.warnings_text import warning_messages  # one warning per kind, as the page

    if isinstance(results.get("seeds"), dict):
        print(f"summary: {printable(summary_sentence(results))}")

    for w in warning_messages(results):  # names in them escaped, as in the ranking
        print(f"warning: {printable(w)}")
