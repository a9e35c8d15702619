"""The ranking ``pgm suite`` and ``pgm compare`` print: intervals, tie groups, the significant
comparisons of the trained networks, the summary over seeds and the warnings."""

from __future__ import annotations

__all__ = ["print_ranking"]


def print_ranking(results: dict) -> None:
    """The ranking with intervals and tie groups, the significant comparisons of the trained
    networks (one run each: training variance not included), the page's summary (what holds
    over seeds, issue 19) and the warnings."""
    rows = results["models"] if isinstance(results, dict) else results
    rows = sorted(rows, key=lambda r: r.get("rank", 0) or -r["log_likelihood_nats"])
    print(
        f"{'rank':<6}{'group':<7}{'model':<22}{'log p(x) nats':>14}{'95% CI':>20}"
        f"{'bits/dim':>10}{'ELBO nats':>11}{'k-hat':>7}"
    )
    for r in rows:
        ci = r.get("ci95")
        ci_text = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        elbo = "" if r.get("elbo_nats") is None else f"{r['elbo_nats']:.2f}"
        khat = "" if r.get("psis_khat") is None else f"{r['psis_khat']:.2f}"
        print(
            f"{r.get('rank', ''):<6}{r.get('group', ''):<7}{r['model']:<22}"
            f"{r['log_likelihood_nats']:>14.2f}"
            f"{ci_text:>20}{r['bits_per_dim']:>10.4f}{elbo:>11}{khat:>7}"
        )
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
                f"  {c['a']} > {c['b']}: {c['mean_difference_nats']:.2f} nats "
                f"[{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}], p_Holm = {c['p_value_adjusted']:.3g}"
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
        print(f"summary: {summary_sentence(results)}")

    for w in warning_messages(results):
        print(f"warning: {w}")
