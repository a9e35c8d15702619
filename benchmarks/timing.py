"""What every benchmark shares: interleaved timing, the machine's description, the data.

Timing is interleaved: each round runs every candidate once (``repeat`` calls), in an order
that rotates from round to round, so a change of load on the machine falls on all of them
alike; the reported figure is the median over rounds, after warm-up calls. Both clocks are
read: the process's CPU time (the work done, insensitive to other processes taking the cores,
which on a shared machine is what makes a ratio of a few per cent measurable) and the wall
clock. ``ratio`` uses the clock the run was asked for (``--clock``, CPU by default).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["CLOCK", "Timing", "binary_images", "compare", "machine", "set_clock"]

#: "cpu" (process CPU time) or "wall"; set once by the command line.
CLOCK = "cpu"


def set_clock(name: str) -> None:
    global CLOCK
    if name not in ("cpu", "wall"):
        raise ValueError(f"clock: expected 'cpu' or 'wall'; found {name!r}")
    CLOCK = name


@dataclass
class Timing:
    """Seconds per call of one candidate, one entry per round, on both clocks."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """The median on the run's clock."""
        return statistics.median(self.cpu if CLOCK == "cpu" else self.wall)

    @property
    def wall_seconds(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(self.cpu)


def compare(
    candidates: dict[str, Callable[[], object]], rounds: int, repeat: int = 1, warmup: int = 1
) -> dict[str, Timing]:
    """Time each callable: ``warmup`` calls each, then ``rounds`` interleaved rounds of
    ``repeat`` calls; seconds per call."""
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    out = {name: Timing() for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            fn = candidates[name]
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(repeat):
                fn()
            out[name].cpu.append((time.process_time() - cpu) / repeat)
            out[name].wall.append((time.perf_counter() - wall) / repeat)
    return out


def _cpu_model() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return fields.get("Model name", platform.machine()).strip()


def machine() -> dict:
    """The machine and software a result was measured on."""
    import pyro

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pyro": pyro.__version__,
        "cuda": torch.cuda.is_available(),
    }


def binary_images(split: str, n: int, data_dir: str | None) -> tuple[torch.Tensor, str]:
    """``n`` binarized-MNIST images ``(n, 1, 28, 28)`` as floats, and where they came from:
    the real data when it is found, else Bernoulli(0.13) noise of the same shape (the timings
    of these benchmarks do not depend on the pixel values)."""
    from pgm.data import load_dataset

    try:
        ds = load_dataset("binarized-mnist", split, data_dir=data_dir)
        return ds.float_images()[:n], "binarized-mnist"
    except (FileNotFoundError, ValueError, OSError):
        generator = torch.Generator().manual_seed(0)
        return (
            torch.rand(n, 1, 28, 28, generator=generator) < 0.13
        ).float(), "synthetic (binarized-mnist not found)"
