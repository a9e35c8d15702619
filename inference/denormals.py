"""Denormal floats flushed to zero while a CPU session trains.

A trained VampPrior pushes its pseudo-inputs' gradients through components whose
responsibilities are ``exp(-90)``-small: float32 denormals. x86 matrix kernels take a slow
path on them (microcode assists), and a step of the ``vamp-1layer`` recipe at epoch 110 ran
ten times slower for it (0.58 against 0.062 s per step on one thread,
``python -m benchmarks.denormals RUN``). Flushing them (FTZ/DAZ, ``torch.set_flush_denormal``)
changes no number above 1.2e-38 in magnitude. Evaluation, forward passes only, is unaffected
(the IS estimate of that checkpoint, K = 200 on 200 images: the same value, 2.25 against
2.23 s), so only training flushes.

``torch.set_flush_denormal`` sets process state and torch has no getter, so the state before
is probed (``1e-40 * 1`` is zero only when denormals are flushed) and restored afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["denormals_flushed", "flush_denormals"]


def denormals_flushed() -> bool:
    """True when this thread flushes float32 denormals to zero."""
    return bool(torch.tensor(1e-40, dtype=torch.float32) * 1.0 == 0)


@contextlib.contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[bool]:
    """Flush denormals to zero inside the block when ``enabled`` (and the CPU supports it);
    the state before is restored on leaving. Yields whether they are flushed inside."""
    before = denormals_flushed()
    if not enabled or before:
        yield before
        return
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        torch.set_flush_denormal(before)
