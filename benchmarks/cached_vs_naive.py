"""Benchmark 4: cached (Ramachandran et al. 2017) against naive autoregressive sampling, 28×28
binary images, batch 16.

For each autoregressive model that streams (its network computes, per new pixel, only the
activations that pixel changes), ``model.sample(16, cached=True)`` and ``cached=False`` run
under one seed: the speed-up is naive time / cached time, and the two batches of images must
be identical (both samplers draw the same uniforms in the same order). The Diagonal BiLSTM's
cache steps its left-to-right LSTM per pixel and sweeps the right-to-left one once per finished
row (see :mod:`pgm.nn.diagonal_bilstm`).

Also a script: ``python -m benchmarks.cached_vs_naive [--models pixelcnn row-lstm] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import pgm

from .timing import CLOCK

__all__ = ["STREAMING_MODELS", "run"]

#: models whose sampler has a cached path, in the order they are timed
STREAMING_MODELS = ("pixelcnn", "gated-pixelcnn", "row-lstm", "diagonal-bilstm")
BATCH, SIZE = 16, 28


def _timed(fn) -> tuple[float, float, torch.Tensor]:
    """``(cpu seconds, wall seconds, result)`` of one call, under a fixed seed."""
    torch.manual_seed(0)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, out


def sample_pair(name: str, cached_repeats: int) -> dict:
    """Time both samplers of one model (median of ``cached_repeats`` for the cached one)."""
    torch.manual_seed(1)
    model = pgm.build({"model": name, "image_shape": [1, SIZE, SIZE], "num_levels": 2}).eval()
    cached = [_timed(lambda: model.sample(BATCH, cached=True)) for _ in range(cached_repeats)]
    cached.sort(key=lambda t: t[0] if CLOCK == "cpu" else t[1])
    fast = cached[len(cached) // 2]
    slow = _timed(lambda: model.sample(BATCH, cached=False))
    pick = 0 if CLOCK == "cpu" else 1
    return {
        "cached_s": round(fast[pick], 3),
        "naive_s": round(slow[pick], 3),
        "speedup": round(slow[pick] / fast[pick], 1),
        "identical": bool(torch.equal(fast[2], slow[2])),
        "wall_s": {"cached": round(fast[1], 3), "naive": round(slow[1], 3)},
    }


def run(quick: bool, data_dir: str | None = None, models: tuple[str, ...] | None = None) -> dict:
    names = models or (STREAMING_MODELS[:1] if quick else STREAMING_MODELS)
    names = [n for n in names if n in pgm.MODELS]
    if not names:
        return {
            "name": "cached_sampling",
            "skipped": "no autoregressive model is registered in pgm.MODELS",
        }
    per_model = {name: sample_pair(name, 3) for name in names}
    worst = min(per_model, key=lambda n: per_model[n]["speedup"])
    passed = all(m["speedup"] >= 10 and m["identical"] for m in per_model.values())
    return {
        "name": "cached_sampling",
        "suite": "model.sample(16, cached=True)",
        "baseline": "model.sample(16, cached=False): the whole network per pixel",
        "suite_s": per_model[worst]["cached_s"],
        "baseline_s": per_model[worst]["naive_s"],
        "ratio": per_model[worst]["speedup"],
        "ratio_is": f"speed-up naive / cached, the smallest over the models ({worst})",
        "target": ">= 10 and identical samples",
        "passed": passed,
        "models": per_model,
        "setup": f"{SIZE}x{SIZE} binary images, batch {BATCH}, default network sizes, "
        "cached: median of 3, naive: 1 run",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(STREAMING_MODELS))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick, models=tuple(args.models))))


if __name__ == "__main__":
    main()
