"""One warning of a report's ``results.json``, in the form every check that warns (posterior
collapse, unreliable k-hat, AIS against IS, convergence) writes it and the report reads it."""

from __future__ import annotations

__all__ = ["warning_record"]


def warning_record(
    code: str, model: str | None, metric: str | None, value, threshold, message: str
) -> dict:
    """One warning of ``results.json``: a machine-readable ``code`` (``posterior-collapse``,
    ``khat-unreliable``, ``not-converged``, ...), the ``model`` and ``metric`` it is about, the
    ``value`` found and the ``threshold`` it crossed, and the sentence the report prints."""
    return {
        "code": code,
        "model": model,
        "metric": metric,
        "value": value,
        "threshold": threshold,
        "message": message,
    }
