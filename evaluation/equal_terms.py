"""The terms a model was trained on, stated for every row so that "equal terms" can be judged
(Lucic et al., NeurIPS 2018, compare models under equal budgets): parameter count, epochs run,
training time, and whether training converged by the rule of :mod:`.convergence`.

A run too short for that rule (fewer than :data:`.convergence.MIN_WINDOW` validated epochs) is
*not shown to converge*: it is neither called converged nor still falling, and the ranking
warning (:func:`.convergence.convergence_warnings`) covers it as it covers a run still falling.
"""

from __future__ import annotations

import torch

__all__ = ["NOT_SHOWN", "convergence_verdict", "model_terms", "parameter_count", "run_terms"]

NOT_SHOWN = "not shown to converge"


def parameter_count(model: torch.nn.Module) -> int:
    """Trainable parameters of the model and its guide (each tensor counted once)."""
    seen, total = set(), 0
    for p in model.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return int(total)


def convergence_verdict(conv: dict) -> tuple[bool | None, str]:
    """``(converged, text)`` from a :func:`.convergence.convergence` record: converged when the
    validation loss is flat or rose past its best (the best epoch's weights are kept), not
    converged while still falling, ``None`` (:data:`NOT_SHOWN`) when the rule cannot tell."""
    status = conv.get("status")
    if status == "flat":
        return True, "converged (flat)"
    if status == "over-fitting":
        return True, "converged (over-fitting; best epoch kept)"
    if status == "still falling":
        return False, "still falling"
    return None, NOT_SHOWN


def run_terms(model: torch.nn.Module, cfg: dict, metrics: list[dict], conv: dict) -> dict:
    """One run's terms: ``parameters``, ``epochs`` (run), ``epoch_budget``, ``train_seconds``,
    ``converged`` (True/False/None) and ``convergence`` (its text)."""
    converged, text = convergence_verdict(conv)
    return {
        "parameters": parameter_count(model),
        "epochs": int(metrics[-1]["epoch"]) if metrics else None,
        "epoch_budget": cfg.get("epochs"),
        "train_seconds": round(sum(float(m.get("seconds") or 0) for m in metrics), 1),
        "converged": converged,
        "convergence": text,
    }


def model_terms(terms: list[dict]) -> dict:
    """A model's terms over its seeds: parameters (one value, or the range), epochs (the range),
    mean training time, and how many seeds converged / were not shown to converge."""

    def span(key):
        values = [t[key] for t in terms if t[key] is not None]
        if not values:
            return None
        lo, hi = min(values), max(values)
        return lo if lo == hi else [lo, hi]

    seconds = [t["train_seconds"] for t in terms if t["train_seconds"] is not None]
    converged = sum(t["converged"] is True for t in terms)
    unshown = sum(t["converged"] is None for t in terms)
    text = (
        f"{converged} of {len(terms)} seeds converged"
        if len(terms) > 1
        else terms[0]["convergence"]
    )
    if unshown and len(terms) > 1:
        text += f"; {unshown} {NOT_SHOWN}"
    return {
        "parameters": span("parameters"),
        "epochs": span("epochs"),
        "train_seconds_mean": round(sum(seconds) / len(seconds), 1) if seconds else None,
        "seeds_converged": converged,
        "seeds_not_shown": unshown,
        "all_converged": converged == len(terms),
        "convergence": text,
    }
