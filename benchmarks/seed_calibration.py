"""Calibration of the tests across training seeds, measured on trained runs, not assumed.

``python -m benchmarks.seed_calibration [EVALUATIONS] [--permutations N]`` reads per-image
log-likelihoods of one config trained with many seeds (``vae-test-K500.npz``,
``vae-seed1-test-K500.npz``, ... and the same for ``pixelcnn``; each npz holds
``log_likelihood (N,)`` and, optionally, ``mc_variance (N,)``, the same N test images) and prints:

- *false positives*: the seeds of one config split into disjoint groups (2 vs 2 ... 8 vs 8), each
  split compared as if they were two models; the share called significant at alpha = 0.05 by
  the seed-level test (:func:`evaluation.seed_statistics.compare_models`) and, for reference, by
  the old single-run test (one network against one network, the paired sign-flip test of
  :func:`evaluation.statistics.compare_paired`) over every pair of seeds;
- *power*: vae against pixelcnn, every choice of 3 seeds of each, share found significant;
- the variance shares of one run's score per model
  (:func:`~evaluation.seed_statistics.variance_shares`).

The default folder is the calibration measurement of issue 19 (16 digits ``vae`` seeds,
4 ``pixelcnn`` seeds, K = 500 on the 360 test images).
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

import numpy as np

from evaluation.seed_statistics import compare_models, variance_shares
from evaluation.statistics import compare_paired

__all__ = ["false_positive_rate", "load_seeds", "main", "power", "single_run_false_positives"]

DEFAULT = Path("/root/runs/calibration/full/evaluations")
ALPHA = 0.05
TEST = "seed-level Welch t"


def load_seeds(folder: Path, model: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(S, N)`` log-likelihoods and MC variances of ``model``'s seeds, seed order."""
    pattern = re.compile(rf"^{re.escape(model)}(?:-seed(\d+))?-test-K\d+\.npz$")
    found = sorted(
        (int(m.group(1) or 0), f) for f in folder.iterdir() if (m := pattern.match(f.name))
    )
    if not found:
        raise SystemExit(f"{folder}: expected {model}[-seedS]-test-K*.npz files; found none")
    files = [np.load(f) for _, f in found]
    ll = np.stack([d["log_likelihood"] for d in files])
    mc = (
        np.stack([d["mc_variance"] for d in files])
        if all("mc_variance" in d for d in files)
        else None
    )
    return ll, mc


def false_positive_rate(
    ll: np.ndarray, size: int, permutations: int, seed: int = 0
) -> tuple[float, int]:
    """Share of disjoint ``size``-vs-``size`` splits of one config's seeds called significant;
    each permutation of the seeds gives ``S // (2 size)`` disjoint splits."""
    rng = np.random.default_rng(seed)
    s = ll.shape[0]
    hits = total = 0
    for _ in range(permutations):
        order = rng.permutation(s)
        for j in range(s // (2 * size)):
            a = order[2 * j * size : (2 * j + 1) * size]
            b = order[(2 * j + 1) * size : (2 * j + 2) * size]
            hits += compare_models("A", "B", ll[a], ll[b], ALPHA).p_value <= ALPHA
            total += 1
    return hits / total, total


def single_run_false_positives(ll: np.ndarray, n_resamples: int = 1999) -> tuple[float, int]:
    """The old test, one network against one network: share of seed pairs called significant."""
    pairs = list(itertools.combinations(range(ll.shape[0]), 2))
    hits = sum(
        compare_paired("a", "b", ll[i], ll[j], n_resamples=n_resamples, seed=k).p_value <= ALPHA
        for k, (i, j) in enumerate(pairs)
    )
    return hits / len(pairs), len(pairs)


def power(a: np.ndarray, b: np.ndarray, size: int = 3) -> tuple[float, int]:
    """Share of all ``size``-vs-``size`` choices of seeds of two models found significant."""
    results = [
        compare_models("A", "B", a[list(i)], b[list(j)], ALPHA).p_value <= ALPHA
        for i in itertools.combinations(range(a.shape[0]), size)
        for j in itertools.combinations(range(b.shape[0]), size)
    ]
    return float(np.mean(results)), len(results)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.seed_calibration", description=__doc__.splitlines()[0]
    )
    p.add_argument("evaluations", nargs="?", type=Path, default=DEFAULT)
    p.add_argument(
        "--permutations", type=int, default=500, help="random seed permutations per split size"
    )
    args = p.parse_args(argv)
    vae, vae_mc = load_seeds(args.evaluations, "vae")
    pix, pix_mc = load_seeds(args.evaluations, "pixelcnn")
    print(
        f"vae: {vae.shape[0]} seeds, pixelcnn: {pix.shape[0]} seeds, "
        f"{vae.shape[1]} test images, alpha = {ALPHA}"
    )
    print("\n| comparison | test | comparisons | share significant at 0.05 |")
    print("|---|---|---:|---:|")
    rate, n = single_run_false_positives(vae)
    print(
        "| vae vs vae, 1 vs 1 network (every seed pair) | old: paired sign-flip over images "
        f"| {n} | {rate:.3f} |"
    )
    for size in (2, 3, 4, 5, 8):
        rate, n = false_positive_rate(vae, size, args.permutations)
        print(f"| vae vs vae, {size} vs {size} disjoint seeds | {TEST} | {n} | {rate:.3f} |")
    for size in (2, 3):
        rate, n = power(vae, pix, size)
        print(f"| vae vs pixelcnn, {size} vs {size} seeds (power) | {TEST} | {n} | {rate:.3f} |")
    print(
        "\n| model | seeds | seed-mean spread (sd, nats) | share: seeds | test images "
        "| Monte Carlo |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, ll, mc in (("vae", vae, vae_mc), ("pixelcnn", pix, pix_mc)):
        v = variance_shares(ll, mc)
        sh = v["shares"]
        cell = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
        print(
            f"| {name} | {ll.shape[0]} | {ll.mean(1).std(ddof=1):.3f} | {cell(sh['seeds'])} | "
            f"{cell(sh['test_images'])} | {cell(sh['monte_carlo'])} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
