"""Denormal floats flushed to zero while a CPU session trains.

A trained VampPrior pushes its pseudo-inputs' gradients through components whose
responsibilities are ``exp(-90)``-small: float32 denormals. x86 matrix kernels take a slow
path on them (microcode assists), and a step of the ``vamp-1layer`` recipe at epoch 110 ran
ten times slower for it (0.58 against 0.062 s per step on one thread,
``python -m benchmarks.denormals RUN``). Flushing them (FTZ/DAZ, ``torch.set_flush_denormal``)
changes no number above 1.2e-38 in magnitude. Evaluation, forward passes only, neither gains
nor changes (the IS estimate of that checkpoint, K = 200 on 200 images: the same value, 2.25
against 2.23 s), so the ``pgm`` process flushing throughout is harmless there.

``torch.set_flush_denormal`` sets the calling thread's state, and torch has no getter: the state
before is probed (``1e-40 * 1`` is zero only when denormals are flushed) and restored afterwards.
A thread starts with the state of the thread that made it, so torch's worker threads (OpenMP)
keep the state the process had when its thread pool started: :func:`flush_for_the_process`,
called by ``pgm``'s command line before any torch work, flushes them too; the key then decides
for the training thread. With 2 threads and only the calling thread flushed, half of a
multiplication's results were still denormal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["denormals_flushed", "flush_denormals", "flush_for_the_process"]


def denormals_flushed() -> bool:
    """True when this thread flushes float32 denormals to zero."""
    return bool(torch.tensor(1e-40, dtype=torch.float32) * 1.0 == 0)


def flush_for_the_process() -> bool:
    """Flush denormals in this thread before torch starts its worker threads, which then
    inherit it (call it first thing; afterwards it reaches this thread only). Returns whether
    the CPU supports it."""
    return torch.set_flush_denormal(True)


@contextlib.contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[bool]:
    """Inside the block, this thread flushes denormals to zero when ``enabled`` and keeps them
    when not; the state before is restored on leaving. Yields whether they are flushed."""
    before = denormals_flushed()
    if enabled == before:
        yield before
        return
    supported = torch.set_flush_denormal(enabled)
    try:
        yield enabled and supported
    finally:
        torch.set_flush_denormal(before)
