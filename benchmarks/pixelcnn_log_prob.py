"""Benchmark 3: ``PixelCNN.log_prob`` through the distribution against the raw network plus
cross-entropy.

The suite's side is the fully observed PixelCNN model's distribution
(``pgm.build({"model": "pixelcnn", ...}).distribution().log_prob(x)``: validation of the value,
scaling to [-1, 1], one masked-convolution pass, the Bernoulli output's log-probability summed
per image); the baseline calls the same network on ``2x - 1`` and takes
``-F.binary_cross_entropy_with_logits(...).sum((1, 2, 3))``. 64 binarized-MNIST images, under
``torch.no_grad`` (evaluation), and forward plus backward (training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import pgm

from .timing import binary_images, compare

__all__ = ["run"]

BATCH = 64


def run(quick: bool, data_dir: str | None = None) -> dict:
    try:
        from pgm.distributions import PixelCNN  # noqa: F401  (present once the family is written)
    except ImportError as err:
        return {
            "name": "pixelcnn_log_prob",
            "skipped": f"pgm.distributions.PixelCNN is not available ({err})",
        }
    x, source = binary_images("valid", BATCH, data_dir)
    torch.manual_seed(0)
    model = pgm.build({"model": "pixelcnn", "image_shape": [1, 28, 28], "num_levels": 2})
    network = model.network

    def suite() -> torch.Tensor:
        return model.distribution().log_prob(x)

    def raw() -> torch.Tensor:
        logits = network(x * 2.0 - 1.0, None)  # (N, C * 1, H, W): one logit per pixel channel
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))

    with torch.no_grad():
        agreement = float((suite() - raw()).abs().max())

    def backward(fn):
        def step():
            network.zero_grad(set_to_none=True)
            fn().sum().backward()

        return step

    rounds = 5 if quick else 9
    with torch.no_grad():
        forward = compare({"suite": suite, "raw": raw}, rounds=rounds, repeat=2 if quick else 4)
    training = compare(
        {"suite": backward(suite), "raw": backward(raw)}, rounds=rounds, repeat=1 if quick else 2
    )
    ratio = forward["suite"].seconds / forward["raw"].seconds
    training_ratio = training["suite"].seconds / training["raw"].seconds
    return {
        "name": "pixelcnn_log_prob",
        "suite": "pgm PixelCNN distribution log_prob (validation on)",
        "baseline": "the same network on 2x-1, minus binary cross-entropy summed per image",
        "suite_ms": round(forward["suite"].seconds * 1e3, 2),
        "baseline_ms": round(forward["raw"].seconds * 1e3, 2),
        "ratio": round(ratio, 3),
        "target": "<= 1.05",
        "passed": ratio <= 1.05,
        "with_backward": {
            "suite_ms": round(training["suite"].seconds * 1e3, 2),
            "baseline_ms": round(training["raw"].seconds * 1e3, 2),
            "ratio": round(training_ratio, 3),
        },
        "max_abs_difference_nats": agreement,
        "setup": f"plain PixelCNN (5 layers, 32 channels), batch {BATCH}, "
        f"{rounds} interleaved rounds, data: {source}",
    }
