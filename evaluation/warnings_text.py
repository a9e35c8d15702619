"""Every sentence a report warns with, in one place: the checks (collapse, k-hat, IS against
AIS, convergence) decide *whether* to warn and keep a machine-readable record
(:func:`~.warning_record.warning_record`); the words are made here.

:func:`warning_messages` turns a report's records into its list of warnings: one item per
kind, naming every model it concerns, so a reader of five models gets the k-hat explanation
once, not five times (``results.json`` keeps one record per model).
"""

from __future__ import annotations

from collections.abc import Callable

from .diagnostics import ACTIVE_UNIT_THRESHOLD as _ACTIVE
from .diagnostics import KHAT_UNRELIABLE as _KHAT
from .diagnostics import NEAR_COLLAPSE_RATE_NATS
from .tables import format_value

__all__ = [
    "ais_disagreement",
    "group_mixes_configs",
    "same_network",
    "khat_unreliable",
    "not_converged",
    "not_shown_to_converge",
    "one_network_per_model",
    "over_fitting",
    "partial_collapse",
    "posterior_collapse",
    "ranking_not_converged",
    "warning_messages",
]

_COLLAPSE_ADVICE = (
    "q(z|x) matches the prior and the decoder ignores z (try KL warm-up, a weaker decoder, or a "
    "smaller lr)"
)
_PARTIAL_ADVICE = (
    "the model uses little of its latent code (partial collapse: fewer than half its units "
    f"active, Cov_x(E_q[z_u|x]) > {_ACTIVE}, or a rate under {NEAR_COLLAPSE_RATE_NATS:g} nat "
    "per image); its likelihood comes from the decoder, not from z"
)
_KHAT_ADVICE = (
    "the importance-sampled log-likelihood is unreliable there (Vehtari et al. 2024): the "
    "weights are heavy-tailed, q(z|x) has lighter tails than the posterior or misses part of "
    "it, so the estimate converges slowly in K and is likely biased low"
)
_BUDGET = "trained for a budget, not to convergence"


def posterior_collapse(name: str, rate: float, num_active: int, latent_dim: int) -> str:
    return (
        f"{name}: POSTERIOR COLLAPSE — rate {rate:.3f} nats, {num_active} of {latent_dim} latent "
        f"units active: {_COLLAPSE_ADVICE}"
    )


def partial_collapse(name: str, rate: float, num_active: int, latent_dim: int) -> str:
    return (
        f"{name}: partial posterior collapse — {num_active} of {latent_dim} latent units active, "
        f"rate {format_value(rate, '.2f')} nats: {_PARTIAL_ADVICE}"
    )


def khat_unreliable(name: str, fraction: float, khat_max: float) -> str:
    return (
        f"{name}: PSIS k-hat > {_KHAT} on {100 * fraction:.1f}% of test images (max "
        f"{khat_max:.2f}): {_KHAT_ADVICE}"
    )


def ais_disagreement(row: dict) -> str | None:
    """The warning of one model's IS-against-AIS row (:mod:`.ais_agreement`), or ``None`` when
    IS and AIS agree and the BDMC gap is at most 1 nat."""
    notes = []
    lo, hi = row["difference_ci95"]
    if not row["agree"]:
        verdict = (
            "the importance-sampled estimate is biased low: trust AIS, and the ranking only where "
            "it holds under AIS"
            if row["difference_nats"] > 0
            else "AIS is below importance sampling: its schedule is too short (see the BDMC gap); "
            "use more steps"
        )
        notes.append(
            f"importance sampling and AIS disagree by more than their uncertainty: AIS − IS = "
            f"{row['difference_nats']:.3f} nats [{lo:.3f}, {hi:.3f}] (IS {row['is_nats']:.2f}, AIS "
            f"{row['ais_nats']:.2f}, T = {row['num_steps']}, {row['num_chains']} chains); {verdict}"
        )
    gap = row["bdmc_gap_nats"]
    if gap is not None and gap > 1.0:
        notes.append(
            f"the BDMC gap on simulated data is {gap:.2f} nats: "
            f"AIS with T = {row['num_steps']} has not "
            "converged, and its estimate may be low by up to that much"
        )
    return f"{row['model']}: " + "; ".join(notes) if notes else None


def not_converged(name: str, conv: dict) -> str:
    return (
        f"{name}: validation loss still falling at the last epoch ({conv['last_epoch']}; slope "
        f"{format_value(conv['slope_per_epoch'], '.3f')} nats per epoch over the last "
        f"{conv['window_epochs']} epochs): {_BUDGET}"
    )


def not_shown_to_converge(name: str, last_epoch: int, min_window: int) -> str:
    return (
        f"{name}: not shown to converge — {last_epoch} epoch(s) are too few for the convergence "
        f"rule (at least {min_window} validated epochs)"
    )


def over_fitting(name: str, conv: dict) -> str:
    return (
        f"{name}: over-fitting — validation loss rose from "
        f"{format_value(conv['best_valid_loss'], '.2f')} (epoch {conv['best_epoch']}, the weights "
        f"kept) to {format_value(conv['last_valid_loss'], '.2f')} at epoch {conv['last_epoch']}"
    )


def ranking_not_converged(pairs: list[dict]) -> str:
    shown = ", ".join(f"{c['a']} > {c['b']}" for c in pairs[:6]) + (" …" if len(pairs) > 6 else "")
    return (
        f"{len(pairs)} significant difference(s) of the ranking involve a model that had not "
        f"converged or was not shown to converge ({shown}): they compare training budgets, not "
        "models; train to convergence "
        "(pgm suite --budget converge) before reading them as a verdict (the rule: see Method)"
    )


def one_network_per_model(single: list[str]) -> str:
    """What a comparison of one trained network per model can and cannot say (issue 19)."""
    who = (
        "Each model was trained once"
        if not single
        else (f"One trained network only for {', '.join(single)}")
    )
    return (
        f"{who}: the intervals and tests of this page reflect the test images and the "
        "estimator's Monte Carlo noise, not training variance, and compare these trained "
        "networks, not the models. A second seed of the same config can differ from the first "
        "by more than the intervals; run pgm suite --seeds 3 (or compare several seeds of each "
        "model, grouped with --group) for statements about models"
    )


def group_mixes_configs(name: str, runs: list[str], keys: list[str]) -> str:
    """A ``--group`` whose runs differ beyond the seed: not replicates of one config."""
    return (
        f"{name}: grouped by hand, but its runs ({', '.join(runs)}) differ in "
        f"{', '.join(keys)}, not only in seed: its interval, variance shares and tests over "
        "seeds mix different configs (possibly different models) as if they were replicates"
    )


def same_network(runs: list[str], low_bits: bool = False) -> str:
    """Runs with the same config and seed: one network trained twice (or copied). ``low_bits``:
    the seeds differ only above their low 32 bits, which is all torch's generator reads."""
    seed = (
        "seeds that differ only above their low 32 bits (all torch's CPU generator reads: "
        "the same initial weights and data order)"
        if low_bits
        else "the same seed"
    )
    return (
        f"{', '.join(runs)}: the same config and {seed}, so one network trained twice "
        "(or a copy of one run), not seeds of one model; compared here as separate networks, "
        "their differences are training nondeterminism at most"
    )


# -- one item per kind ------------------------------------------------------------------------
def _rows(results: dict) -> dict[str, dict]:
    return {r["model"]: r for r in results.get("models", [])}


def _units(row: dict) -> str:
    return (
        f"rate {format_value(row.get('rate_nats'), '.2f')} nats, "
        f"{row.get('active_units')} of {row.get('latent_dim')} units active"
    )


def _collapse_group(records: list[dict], results: dict) -> str:
    rows = _rows(results)
    listed = "; ".join(f"{w['model']} ({_units(rows.get(w['model'], {}))})" for w in records)
    return f"POSTERIOR COLLAPSE in {len(records)} models: {listed}: {_COLLAPSE_ADVICE}"


def _partial_group(records: list[dict], results: dict) -> str:
    rows = _rows(results)
    listed = "; ".join(f"{w['model']} ({_units(rows.get(w['model'], {}))})" for w in records)
    return f"Partial posterior collapse in {len(records)} models: {listed}: {_PARTIAL_ADVICE}"


def _khat_group(records: list[dict], results: dict) -> str:
    rows = _rows(results)
    listed = ", ".join(
        f"{w['model']} ({100 * w['value']:.1f}% of images, max "
        f"{format_value(rows.get(w['model'], {}).get('psis_khat_max'), '.2f')})"
        for w in records
    )
    return (
        f"PSIS k-hat > {_KHAT} on some test images of {len(records)} models: {listed}: "
        f"{_KHAT_ADVICE}"
    )


def _falling_group(records: list[dict], results: dict) -> str:
    runs = ", ".join(f"{w['model']} ({format_value(w['value'], '.3f')})" for w in records)
    return (
        f"{len(records)} runs were still falling at their last epoch (slope of the validation "
        f"loss, nats per image per epoch): {runs}: {_BUDGET}"
    )


def _listed_group(records: list[dict], results: dict) -> str:
    return "; ".join(w["message"] for w in records)


_GROUPS: dict[str, Callable[[list[dict], dict], str]] = {
    "posterior-collapse": _collapse_group,
    "partial-collapse": _partial_group,
    "khat-unreliable": _khat_group,
    "not-converged": _falling_group,
}


def warning_messages(results: dict) -> list[str]:
    """The report's warnings from ``results["warnings"]``: one sentence per kind (``code``), in
    the order the kinds first occur, naming every model of that kind; a kind with one record
    gets that record's own sentence."""
    records = results.get("warnings", [])
    codes = list(dict.fromkeys(w["code"] for w in records))
    out = []
    for code in codes:
        of_kind = [w for w in records if w["code"] == code]
        if len(of_kind) == 1:
            out.append(of_kind[0]["message"])
        else:
            out.append(_GROUPS.get(code, _listed_group)(of_kind, results))
    return out
