"""How far a binarized-MNIST score on the validation split is from the same model's score on
test images, measured without the held-back test split.

``python -m benchmarks.valid_test_shift RUN [--data-dir D] [--checkpoint best] [-k 1000]
[--num-images N] [--seed 0] [--threads 1] [--plugin FILE]``

The published binarized-MNIST numbers are on the test split of Larochelle & Murray's static
binarization; here that split is held back, so the reproduction rows are scored on the
validation split. Static binarization drew each pixel once, on with probability grey / 255, from
the MNIST images: the validation split from MNIST training images, the test split from the
10,000 MNIST test images. ``mnist.npz`` holds the grey images, so the two splits' *process* can
be rerun:

1. Each validation image is matched, one-to-one, to the MNIST training image it was drawn from
   (the one under whose Bernoulli(grey / 255) pixels it is most likely; where two pick one
   source, the better fit keeps it; the printout gives the margin to the next candidate).
2. ``proxy-valid``: those grey images, binarized afresh (seeded). ``proxy-test``: the first N
   MNIST test images, binarized afresh with the same generator.
3. The run's model scores the official validation images, proxy-valid and proxy-test with the
   shared importance-sampled estimator (same K; an independent estimator draw per set).

Means and the check carry the bootstrap interval ``pgm evaluate`` gives
(:func:`evaluation.statistics.summarise_mean`). ``proxy-valid − valid`` (paired over images)
checks the proxy: the same digits, another draw of
their pixels, should score the same on average. ``proxy-test − proxy-valid`` is the shift from
validation to test images (unpaired; the interval is the normal one from both standard errors).
A fresh binarization of the test images is not the official test split, but the official split
holds the same 10,000 MNIST test images drawn by the same process, so its mean score is expected
to equal proxy-test's up to binarization noise. The last line gives that expectation, with an
interval from the paired check's per-image spread (two draws of one image) over the test count;
it is refused when the check itself fails (its interval excludes 0).

Nothing is written into the run folder: these are not the test split's scores.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

__all__ = ["binarize", "main", "match_sources"]


def match_sources(
    binary: np.ndarray, grey: np.ndarray, block: int = 500, candidates: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """For each binary image ``(N, D)`` in {0, 1}, the index of the grey image ``(M, D)`` in
    0..255 it was drawn from, one-to-one: the most likely under independent Bernoulli(grey / 255)
    pixels, except where two binary images pick one source, where the better fit keeps it and the
    other takes its best free one among its ``candidates`` most likely (MNIST has near-duplicate
    digits). Also the log-likelihood margin (nats) of each match over the best other candidate.
    Probabilities are clipped to [1e-4, 1 − 1e-4] so one stray pixel does not rule a source out."""
    if binary.ndim != 2 or grey.ndim != 2 or binary.shape[1] != grey.shape[1]:
        raise ValueError(
            f"binary, grey: expected (N, D) and (M, D) with the same D; found {binary.shape} "
            f"and {grey.shape}"
        )
    n, c = binary.shape[0], min(candidates, grey.shape[0])
    if grey.shape[0] < max(n, 2):
        raise ValueError(
            f"grey: expected at least max(N, 2) = {max(n, 2)} candidate images; found "
            f"{grey.shape[0]}"
        )
    p = np.clip(grey.astype(np.float32) / 255.0, 1e-4, 1 - 1e-4)
    log_on, log_off = np.log(p).T.copy(), np.log1p(-p).T.copy()
    top = np.empty((n, c), np.int64)
    top_score = np.empty((n, c))
    for start in range(0, n, block):
        b = binary[start : start + block].astype(np.float32)
        score = b @ log_on + (1 - b) @ log_off
        part = np.argpartition(-score, c - 1, axis=1)[:, :c]
        part_score = np.take_along_axis(score, part, 1)
        order = np.argsort(-part_score, axis=1)
        top[start : start + block] = np.take_along_axis(part, order, 1)
        top_score[start : start + block] = np.take_along_axis(part_score, order, 1)
    index = np.full(n, -1, np.int64)
    margin = np.empty(n)
    taken: set[int] = set()
    # the best fits choose first; a collision falls back to the next free candidate
    for i in np.argsort(-top_score[:, 0], kind="stable"):
        free = [j for j in range(c) if int(top[i, j]) not in taken]
        if not free:
            raise ValueError(
                f"binary[{i}]: its {c} most likely sources are all taken by better fits (are the "
                "binary images drawn from these grey ones?)"
            )
        j = free[0]
        index[i] = top[i, j]
        taken.add(int(top[i, j]))
        others = np.delete(top_score[i], j)
        margin[i] = top_score[i, j] - others.max()
    return index, margin


def binarize(grey: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """One static binarization: each pixel on with probability grey / 255 (uint8 {0, 1})."""
    return (generator.random(grey.shape) < grey / 255.0).astype(np.uint8)


def _score(model, images: np.ndarray, k: int, seed: int) -> np.ndarray:
    from evaluation.log_likelihood import estimate

    x = torch.from_numpy(images.astype(np.float32)).view(-1, 1, 28, 28)
    torch.manual_seed(seed)
    return estimate(model, None, x, k, progress=True).log_likelihood.double().numpy()


def _row(name: str, s) -> str:
    return f"| {name} | {s.n} | {s.mean:.2f} | [{s.ci95[0]:.2f}, {s.ci95[1]:.2f}] |"


def _diff(name: str, mean: float, low: float, high: float) -> str:
    return f"| {name} | {mean:+.2f} | [{low:+.2f}, {high:+.2f}] |"


def _mci(s) -> tuple[float, float, float]:
    return s.mean, s.ci95[0], s.ci95[1]


class _Parser(argparse.ArgumentParser):
    """A usage mistake on one line (exit status 2), as pgm's own commands report it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    p = _Parser(
        allow_abbrev=False,  # --data is not --data-dir
        prog="python -m benchmarks.valid_test_shift",
        description="How far a binarized-MNIST validation score is from the same model's score "
        "on test images, measured without the held-back test split (see the module's docstring).",
    )
    p.add_argument("run", help="a run folder trained on binarized-mnist (pgm train / reproduce)")
    p.add_argument("--data-dir", default=None, help="folder with binarized_mnist.npz and mnist.npz")
    p.add_argument(
        "--checkpoint",
        choices=["best", "last"],
        default=None,
        help="score a run still training from its newest checkpoint: best, its best weights so "
        "far; last, its latest",
    )
    p.add_argument("-k", "--num-particles", type=int, default=1000, help="importance samples K")
    p.add_argument(
        "--num-images",
        type=int,
        default=1000,
        help="the first N validation images and the first N test images",
    )
    p.add_argument("--seed", type=int, default=0, help="binarization and estimator seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--test-only",
        action="store_true",
        help="score the proxy-test images alone (the same binarization and estimator draws as a "
        "full run), e.g. at the paper's K once a full run at a smaller K has passed the proxy's "
        "check: a third of the work",
    )
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="the plug-in the run was trained with (a module name or a .py file); repeatable",
    )
    a = p.parse_args(argv)
    for name, value, low, high in (
        ("--num-images", a.num_images, 2, 10000),
        ("-k/--num-particles", a.num_particles, 1, 100_000),
        ("--threads", a.threads, 1, 1024),
        ("--seed", a.seed, 0, 2**31 - 3),
    ):
        if not low <= value <= high:
            p.error(f"{name}: expected an integer in {low}..{high}; found {value}")
    torch.set_num_threads(a.threads)

    from evaluation.statistics import summarise_mean
    from inference import load_run_weights
    from inference.run_folder import RunFolder, check_recorded_plugins
    from pgm.data.npz import load_binarized_mnist, load_mnist, resolve_data_dir
    from pgm.errors import PgmError
    from pgm.plugins import name_plugins

    try:
        data = resolve_data_dir(a.data_dir)
        valid = load_binarized_mnist("valid", data).images.reshape(-1, 784).numpy()
        grey_train = (
            torch.cat([load_mnist(split, data).images for split in ("train", "valid")])
            .reshape(-1, 784)
            .numpy()
        )  # the 60,000 MNIST training images, in their order
        if grey_train.shape[0] != 60000:
            raise PgmError(
                f"--data-dir: expected mnist.npz with the 60,000 MNIST training images (the "
                f"sources of the validation split); found {grey_train.shape[0]}"
            )
        grey_test = load_mnist("test", data).images.reshape(-1, 784).numpy()
        n = min(a.num_images, valid.shape[0], grey_test.shape[0])
        if n < 2:
            raise PgmError(
                f"--data-dir: expected at least 2 validation and 2 test images; found "
                f"{valid.shape[0]} and {grey_test.shape[0]}"
            )
        if n < a.num_images:
            print(f"note: {n} validation and test images scored (all the data holds)")
        valid, grey_test = valid[:n], grey_test[:n]
        # the run's recorded plug-ins are checked against those named before any is imported
        weights_file = RunFolder(a.run).weights
        if a.checkpoint is None and Path(a.run).is_dir() and not weights_file.exists():
            raise PgmError(
                f"run: expected {weights_file}; found none (training did not finish: score its "
                "newest checkpoint with --checkpoint best)"
            )
        name_plugins(a.plugin, "--plugin")
        check_recorded_plugins(a.run)  # before any plug-in is imported
        model, cfg, weights = load_run_weights(a.run, checkpoint=a.checkpoint)
        if cfg.get("data") != "binarized-mnist":
            raise PgmError(
                f"run: expected a run trained on binarized-mnist; found data {cfg.get('data')!r}"
            )
        index, margin = match_sources(valid, grey_train)
    except (PgmError, OSError, ValueError) as e:
        print(f"valid_test_shift: {e}", file=sys.stderr)
        return 2
    sources = grey_train[index]
    gen = np.random.default_rng(a.seed)
    proxy_valid, proxy_test = binarize(sources, gen), binarize(grey_test, gen)
    print(
        f"matched {valid.shape[0]} validation images one-to-one to MNIST training images "
        f"({int((margin < 0).sum())} took a later candidate, their best taken by a better fit); "
        f"margin over the best other candidate median {np.median(margin):.1f} "
        f"nats; mean pixel on: valid {valid.mean():.4f}, their grey/255 "
        f"{sources.mean() / 255:.4f}, proxy-valid {proxy_valid.mean():.4f}, test grey/255 "
        f"{grey_test.mean() / 255:.4f}"
    )
    scores = {}
    for offset, (name, images) in enumerate(
        (("valid", valid), ("proxy-valid", proxy_valid), ("proxy-test", proxy_test))
    ):
        if a.test_only and name != "proxy-test":
            continue
        # independent estimator draws per set, as an official-split evaluation would have
        scores[name] = _score(model, images, a.num_particles, a.seed + offset)
    print(
        f"\n{Path(a.run).resolve().name} ({weights.describe()}), K = {a.num_particles}, "
        f"seed {a.seed}; mean log p(x) in nats, 95% bootstrap interval\n"
    )
    print("| images | N | mean log p(x) | 95% CI |\n|---|---:|---:|---:|")
    for name, v in scores.items():
        print(_row(name, summarise_mean(v, seed=a.seed)))
    if a.test_only:
        print(
            f"\n--test-only: the proxy's check was not made in this run, so its score stands for "
            f"the official test split (K = {a.num_particles}) only where a full run of these "
            "weights passed it"
        )
        return 0
    check = scores["proxy-valid"] - scores["valid"]
    checked = summarise_mean(check, seed=a.seed)
    pv, pt = scores["proxy-valid"], scores["proxy-test"]
    shift = pt.mean() - pv.mean()
    se_shift = math.hypot(pv.std(ddof=1) / math.sqrt(pv.size), pt.std(ddof=1) / math.sqrt(pt.size))
    # the official test split holds these same test images, binarized by another draw: its mean
    # differs from proxy-test's by binarization (and estimator) noise alone, whose per-image
    # spread the paired check measures (two draws of one image)
    se_test = check.std(ddof=1) / math.sqrt(pt.size)
    where = (
        "the official test split (its 10,000 images)"
        if pt.size == 10000
        else f"these {pt.size} MNIST test images as the official split binarized them"
    )
    print("\n| difference | mean | 95% CI |\n|---|---:|---:|")
    print(_diff("proxy-valid − valid (same images, paired: the proxy's check)", *_mci(checked)))
    print(
        _diff(
            "proxy-test − proxy-valid (validation → test images; normal interval)",
            shift,
            shift - 1.96 * se_shift,
            shift + 1.96 * se_shift,
        )
    )
    if not checked.ci95[0] <= 0 <= checked.ci95[1]:
        print(
            "\nno estimate for the test split: the proxy's check fails (a fresh binarization of "
            "the validation images does not score as the official one does), so the proxy does "
            "not stand in for the official split here",
            file=sys.stderr,
        )
        return 1
    print(
        f"\nexpected on {where} (K = {a.num_particles}): {pt.mean():.2f} "
        f"[{pt.mean() - 1.96 * se_test:.2f}, {pt.mean() + 1.96 * se_test:.2f}] (the same images, "
        "another draw of their pixels: binarization and estimator noise)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
