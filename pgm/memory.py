"""Refusing requests that cannot fit in memory, before allocating: the available memory (the
least of ``/proc/meminfo``'s MemAvailable, the cgroup's limit and ``RLIMIT_AS``), and the
parameter count of a config's model, measured by building it on PyTorch's ``meta`` device
(shapes only, no storage)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import torch

from .errors import PgmError

__all__ = ["available_memory", "check_fits", "format_bytes", "parameter_bytes"]


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def _rlimit_available() -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:  # what this process already maps counts against the limit
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        return max(soft - pages * os.sysconf("SC_PAGE_SIZE"), 0)
    except (OSError, ValueError, IndexError):
        return soft


def available_memory() -> int | None:
    """Bytes this process may still allocate (None when nothing can be read)."""
    found = [
        v for v in (_meminfo_available(), _cgroup_available(), _rlimit_available()) if v is not None
    ]
    return min(found) if found else None


def format_bytes(n: float) -> str:
    if n != n or n == float("inf"):
        return "more than 2^64 bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_fits(need: float, argument: str, what: str) -> None:
    """Refuse a request whose estimated memory ``need`` (bytes) exceeds what is available,
    naming the argument, the need and the available memory."""
    have = available_memory()
    if have is not None and need > have:
        raise PgmError(
            f"{argument}: expected a request that fits in memory; found {what}, needing about "
            f"{format_bytes(need)}, with {format_bytes(have)} available"
        )


def parameter_bytes(build, config: dict) -> float:
    """Bytes of the parameters ``build(config)`` would allocate, found without allocating them
    (the model is built on the ``meta`` device); ``inf`` when a tensor's size overflows, 0 when
    the model cannot be built there (a module that reads values while building)."""
    try:
        with torch.device("meta"):
            model = build(config)
    except (RuntimeError, OverflowError) as err:
        return (
            float("inf") if "overflow" in str(err).lower() or isinstance(err, OverflowError) else 0
        )
    except (MemoryError, NotImplementedError, TypeError, AttributeError):
        return 0
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)
