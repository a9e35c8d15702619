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


def print_ranking(results: dict) -> None:
    """The ranking with intervals and tie groups, the significant comparisons of the trained
    networks (one run each: training variance not included), the page's summary (what holds
    over seeds, issue 19) and the warnings."""
    from evaluation.tables import printable  # here: `pgm --help` imports no torch

    rows = results["models"] if isinstance(results, dict) else results
    rows = sorted(rows, key=lambda r: r.get("rank", 0) or -r["log_likelihood_nats"])
    header = ("rank", "group", "model", "log p(x) nats", "95% CI", "bits/dim", "ELBO nats", "k-hat")
    lines = []
    for r in rows:
        ci = r.get("ci95")
        lines.append(
            (
                str(r.get("rank", "")),
                str(r.get("group", "")),
                printable(str(r["model"])),
                _number(r["log_likelihood_nats"], ".2f"),
                f"[{_number(ci[0], '.2f')}, {_number(ci[1], '.2f')}]" if ci else "",
                _number(r["bits_per_dim"], ".4f"),
                "" if r.get("elbo_nats") is None else _number(r["elbo_nats"], ".2f"),
                "" if r.get("psis_khat") is None else _number(r["psis_khat"], ".2f"),
            )
        )
    # each column as wide as its widest cell (wide numbers never run into their neighbours);
    # names left-aligned, numbers right-aligned
    # (in terminal columns: a CJK name is twice its length)
    widths = [max(_width(c) for c in column) for column in zip(header, *lines, strict=True)]
    for line in (header, *lines):
        cells = [_pad(c, w, i < 3) for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        print("  ".join(cells).rstrip())
    if not isinstance(results, dict):
        return
    comparisons = results.get("comparisons", [])
    if comparisons:
        alpha = results.get("method", {}).get("alpha", 0.05)
        different = [c for c in comparisons if c["significant"]]
        print(
            f"{len(different)} of {len(comparisons)} pairwise differences between these trained "
            f"networks significant (Holm, alpha = {alpha}; one run each, training variance not "
            "included):"
        )
        of = {r["model"]: r.get("replicate_of") for r in rows}
        for c in different:
            same = of.get(c["a"]) is not None and of.get(c["a"]) == of.get(c["b"])
            print(
                f"  {printable(str(c['a']))} > {printable(str(c['b']))}: "
                f"{_number(c['mean_difference_nats'], '.2f')} nats "
                f"[{_number(c['ci95'][0], '.2f')}, {_number(c['ci95'][1], '.2f')}], "
                f"p_Holm = {c['p_value_adjusted']:.3g}"
                # two seeds of one model "beating" each other is training variance (issue 19)
                + (
                    f" (seeds of one model, {of[c['a']]}: training variance, not a difference "
                    "between models)"
                    if same
                    else ""
                )
            )
    from evaluation.report import summary_sentence
    from evaluation.warnings_text import warning_messages  # one warning per kind, as the page

    if isinstance(results.get("seeds"), dict):
        print(f"summary: {printable(summary_sentence(results))}")

    for w in warning_messages(results):  # names in them escaped, as in the ranking
        print(f"warning: {printable(w)}")
