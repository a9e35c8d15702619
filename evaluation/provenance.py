"""Provenance of a report: the software it was made with, so that a reader can tell which code
produced its numbers.

:func:`versions` (pgm with its git commit, torch, Pyro, ArviZ, SciPy, scikit-learn) and
:func:`plugin_names` (the plug-in modules each run needs) go into the Method section of
``results.json`` and the report.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["git_commit", "plugin_names", "versions"]


def git_commit() -> str | None:
    """The commit of the checkout pgm runs from (with ``+dirty`` for uncommitted changes), or
    None when it is not a git checkout (an installed wheel) or git is absent."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    """The versions of pgm (and its git commit, where there is one) and of the libraries whose
    code computes a report's numbers."""
    import arviz
    import pyro
    import scipy
    import sklearn
    import torch

    import pgm

    found = {"pgm": pgm.__version__}
    commit = git_commit()
    if commit:
        found["pgm git commit"] = commit
    found.update(
        {
            "torch": torch.__version__,
            "pyro-ppl": pyro.__version__,
            "arviz": arviz.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        }
    )
    return found


def plugin_names(cfg: dict) -> list[str]:
    """The plug-in modules a run needs (with their versions), from its config's records."""
    records = [r for r in cfg.get("plugins") or [] if isinstance(r, dict)]
    return [r["module"] + (f" {r['version']}" if r.get("version") else "") for r in records]
