"""Benchmark 2: the shared log-likelihood estimator against a hand-written IWAE loop, and its
peak memory as K grows.

Time: ``evaluation.log_likelihood.estimate`` (the model/guide traced under a vectorised
particle plate, per-datapoint log-weights read from the traces, chunked by its default
``max_elements``) against a hand-written loop computing the same per-datapoint
``logsumexp_k [log p(x, z_k) − log q(z_k | x)] − log K`` (Burda et al. 2016) from the same
networks, drawing the same number of particles per pass, for 16 binarized-MNIST images at
K = 5000.

Memory: each measurement runs in a fresh subprocess (so one cannot inherit another's
allocator state), which builds the model, warms up at K = 1, reads its resident set size,
runs the estimate, and reports the peak RSS (``VmHWM``, reset after the warm-up) above that
baseline: the bytes the estimate needed from the operating system. torch's CPU tensors are
invisible to ``tracemalloc`` and ``torch.cuda`` statistics do not apply, so the kernel's
high-water mark is the measure. It is taken twice: with glibc's mmap threshold pinned
(``MALLOC_MMAP_THRESHOLD_=131072``, its initial value), so that every large tensor is its own
mapping, returned when freed, and the peak is the live tensors' (the ratio the target is
checked on); and with glibc's default dynamic threshold, which after the first large free
serves later tensors from the heap and lets fragmentation raise the high-water mark with the
number of passes, on any loop of this shape, hand-written or not (reported alongside).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import pgm
from evaluation.log_likelihood import estimate

from .timing import binary_images, compare

__all__ = ["hand_written_iwae", "reset_peak_rss", "rss_kib", "run"]

NUM_IMAGES = 16
CONFIG = {
    "model": "vae",
    "image_shape": [1, 28, 28],
    "num_levels": 2,
    "hidden_dim": 400,
    "latent_dim": 50,
}


def default_chunk(num_images: int, num_particles: int) -> int:
    """Particles per vectorised pass at the estimator's default ``max_elements``."""
    max_elements = inspect.signature(estimate).parameters["max_elements"].default
    return max(1, min(num_particles, max_elements // num_images))


@torch.no_grad()
def hand_written_iwae(model, x: torch.Tensor, num_particles: int, chunk: int) -> torch.Tensor:
    """Per-datapoint importance-weighted log p(x), ``(N,)``: the textbook loop."""
    posterior, decoder = model.posterior, model.likelihood.decoder
    h = posterior.encoder(x)  # the last hidden layer, already activated
    loc, scale = posterior.loc(h), F.softplus(posterior.scale(h)) + 1e-4
    flat = x.flatten(1)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    log_q_const = (scale.log() + half_log_2pi).sum(-1)
    per_chunk = []
    for start in range(0, num_particles, chunk):
        k = min(chunk, num_particles - start)
        eps = torch.randn(k, *loc.shape)
        z = loc + scale * eps
        logits = decoder(z)[..., 0].flatten(2)
        log_px = -F.binary_cross_entropy_with_logits(
            logits, flat.expand_as(logits), reduction="none"
        ).sum(-1)
        log_pz = (-0.5 * z**2 - half_log_2pi).sum(-1)
        log_qz = -0.5 * (eps**2).sum(-1) - log_q_const
        per_chunk.append(torch.logsumexp(log_px + log_pz - log_qz, 0))
    return torch.logsumexp(torch.stack(per_chunk), 0) - math.log(num_particles)


def _model_and_data(data_dir: str | None):
    torch.manual_seed(0)
    model = pgm.build(CONFIG).eval()
    x, source = binary_images("valid", NUM_IMAGES, data_dir)
    return model, x, source


def measure_peak(which: str, num_particles: int, data_dir: str | None) -> dict:
    """In this (fresh) process: peak resident memory of one estimate above the warm baseline."""
    torch.set_num_threads(1)
    model, x, _ = _model_and_data(data_dir)
    chunk = default_chunk(x.shape[0], num_particles)

    def once(k: int) -> None:
        if which == "suite":
            estimate(model, x=x, num_particles=k)
        else:
            hand_written_iwae(model, x, k, default_chunk(x.shape[0], k))

    once(1)  # imports, lazy initialisation, the allocator's first arenas
    reset_peak_rss()
    baseline = rss_kib("VmRSS")
    once(num_particles)
    peak = rss_kib("VmHWM")
    return {
        "which": which,
        "num_particles": num_particles,
        "chunk": chunk,
        "peak_mb": (peak - baseline) / 1024,
    }


def rss_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (the peak) of this process, in KiB.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries a parent's resident size at fork into the
    child's ``ru_maxrss`` across exec, so a child of a large process would report the parent's."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak_rss() -> None:
    """Set the peak (``VmHWM``) to the current resident size (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_in_subprocess(
    which: str, num_particles: int, data_dir: str | None, pinned: bool
) -> float:
    cmd = [sys.executable, "-m", "benchmarks.estimator", which, str(num_particles)]
    if data_dir:
        cmd.append(data_dir)
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    if pinned:
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]


def run(quick: bool, data_dir: str | None = None) -> dict:
    k = 5000
    model, x, source = _model_and_data(data_dir)
    chunk = default_chunk(x.shape[0], k)
    suite = estimate(model, x=x, num_particles=k).log_likelihood
    hand = hand_written_iwae(model, x, k, chunk)
    timings = compare(
        {
            "suite": lambda: estimate(model, x=x, num_particles=k),
            "hand": lambda: hand_written_iwae(model, x, k, chunk),
        },
        rounds=3 if quick else 7,
        warmup=0,
    )
    ratio = timings["suite"].seconds / timings["hand"].seconds
    memory = {
        (which, particles, pinned): _peak_in_subprocess(which, particles, data_dir, pinned)
        for which in (("suite",) if quick else ("suite", "hand"))
        for pinned in (True, False)
        for particles in (500, k)
    }
    memory_ratio = memory[("suite", k, True)] / memory[("suite", 500, True)]
    dynamic_ratio = memory[("suite", k, False)] / memory[("suite", 500, False)]
    return {
        "name": "estimator",
        "suite": "evaluation.log_likelihood.estimate, default chunking",
        "baseline": "hand-written IWAE loop, same networks, same particles per pass",
        "suite_s": round(timings["suite"].seconds, 3),
        "baseline_s": round(timings["hand"].seconds, 3),
        "ratio": round(ratio, 3),
        "target": "<= 1.10",
        "memory_peak_mb": {
            f"{which} K={p}" + ("" if pinned else " (dynamic malloc)"): round(mb, 1)
            for (which, p, pinned), mb in memory.items()
        },
        "memory_ratio": round(memory_ratio, 3),
        "memory_target": "<= 1.5",
        "memory_ratio_dynamic_malloc": round(dynamic_ratio, 3),
        "passed": ratio <= 1.10 and memory_ratio <= 1.5,
        "agreement_nats": round(float((suite.mean() - hand.mean()).abs()), 3),
        "wall_s": {name: round(t.wall_seconds, 3) for name, t in timings.items()},
        "setup": f"K = {k}, {x.shape[0]} images, {chunk} particles per pass, data: {source}; "
        "memory: peak RSS above a warm baseline, fresh subprocess per measurement",
    }


if (
    __name__ == "__main__"
):  # one memory measurement: python -m benchmarks.estimator WHICH K [DATA_DIR]
    print(
        json.dumps(
            measure_peak(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
        )
    )
