"""Provenance of a report: the software it was made with, so that a reader can tell which code
produced its numbers.

:func:`versions` (pgm with its git commit, torch, Pyro, ArviZ, SciPy, scikit-learn),
:func:`plugin_names` (the plug-in modules each run needs), :func:`made_at` (the date),
:func:`hardware` (CPU model, GPU name) and :func:`command_line` (the command that made it) go
into the Method section of ``results.json`` and the report.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

__all__ = ["command_line", "git_commit", "hardware", "made_at", "plugin_names", "versions"]


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


def made_at() -> str:
    """The current time in UTC, ISO 8601 to the second (``2026-12-06T18:40:00Z``)."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware() -> dict:
    """What the numbers were computed on: the CPU model and its logical cores, and the GPU's name
    (``None`` without CUDA), with the platform."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "gpu": gpu,
        "platform": platform.platform(terse=True),
    }


def command_line(argv: list[str] | None = None) -> str:
    """The command that is running, shell-quoted: ``pgm compare runs/a runs/b --out cmp`` (the
    ``pgm`` entry point or ``python -m pgm_cli`` both read as ``pgm``)."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    program = Path(argv[0]).name
    if program in ("pgm", "main.py", "__main__.py", "-m"):
        return shlex.join(["pgm", *argv[1:]])
    return shlex.join(argv)
