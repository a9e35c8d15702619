"""Benchmarks: the cost of the suite's abstractions, each measured side by side in one run
against the hand-written equivalent, as a ratio with a target.

``python -m benchmarks [--quick] [--only NAME ...] [--write-results benchmarks/RESULTS.md]``
prints one JSON line per benchmark (``name``, the two timings, ``ratio``, ``target``, ``passed``):

- ``svi_step`` (:mod:`benchmarks.svi_step`): a VAE training step against hand-written PyTorch;
- ``estimator`` (:mod:`benchmarks.estimator`): the shared log-likelihood estimator at K = 5000
  against a hand-written IWAE loop, and its peak memory at K = 5000 against K = 500;
- ``pixelcnn_log_prob`` (:mod:`benchmarks.pixelcnn_log_prob`): ``PixelCNN.log_prob`` against the
  raw network plus cross-entropy;
- ``cached_sampling`` (:mod:`benchmarks.cached_vs_naive`): cached against naive autoregressive
  sampling at 28×28, batch 16;
- ``throughput`` (:mod:`benchmarks.throughput`): training images/s of every registered model,
  with its number of sequential steps per image;
- ``ais`` (:mod:`benchmarks.ais`): AIS per density+gradient evaluation against the IS estimator
  per density evaluation, AIS memory against T and C, digits IS-vs-AIS with the BDMC gap, and
  the wall time of AIS on 1,000 binarized-MNIST images.
"""

from __future__ import annotations

__all__ = ["BENCHMARKS"]

#: name -> module (each has ``run(quick, data_dir) -> dict``), in the order they run.
BENCHMARKS = {
    "svi_step": "benchmarks.svi_step",
    "estimator": "benchmarks.estimator",
    "pixelcnn_log_prob": "benchmarks.pixelcnn_log_prob",
    "cached_sampling": "benchmarks.cached_vs_naive",
    "throughput": "benchmarks.throughput",
    "ais": "benchmarks.ais",
}
