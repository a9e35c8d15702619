"""Test-only kill points: with ``PGM_TEST_KILL_AT=NAME`` set, the process sends itself SIGKILL
the first time it reaches the point ``NAME``, the tests' way of proving that a kill at that
precise moment loses nothing.

The points: ``write:FILENAME`` half-way through an atomic write of ``FILENAME``
(:mod:`.atomic_write`), the trainer's ``step:N`` and ``after-checkpoint:N``, and the report
swap's ``report:...`` (:mod:`evaluation.report_swap`).
"""

from __future__ import annotations

import os
import signal

__all__ = ["KILL_AT_ENV", "kill_point"]

#: The environment variable naming the kill point.
KILL_AT_ENV = "PGM_TEST_KILL_AT"


def kill_point(name: str) -> None:
    """SIGKILL this process if ``$PGM_TEST_KILL_AT`` is ``name``; a no-op otherwise."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
