"""Benchmark 1: an SVI training step of the suite's VAE against the same step written by hand.

Both sides train the same modules (MLP encoder 784-400-400 → 400 features → q(z|x) with
L = 50, MLP decoder 50-400-400-784, Bernoulli likelihood; ``pgm.build``'s VAE) on batches of
128 binarized-MNIST images, with the same ``torch.optim.Adam``, looping over the same
per-epoch permutation. The suite's side is ``Trainer.fit`` itself (the model and guide are
plain Pyro programs, the loss Pyro's own ``Trace_ELBO``, the NaN guard on); the hand-written side
computes the same single-sample ELBO with ``F.binary_cross_entropy_with_logits`` and the Gaussian
log-densities by formula, and reads ``loss.item()`` each step as any training loop logging its
loss does. Seconds per step are epoch time / steps.

Reference (not a target): Pyro's own ``SVI`` + ``Trace_ELBO`` + ``pyro.optim.Adam`` on the same
model and guide (``pyro.module`` registering the networks).

The target was <= 1.10 while the trainer used a lean re-implementation of ``Trace_ELBO``; that
bought 8-17% of a step (this benchmark's reference column then, 2 cores, 1 thread) and was not
exactly Pyro's objective, so it was removed: Pyro's per-step bookkeeping (traces, checks, a
``.item()`` per site) is what the suite's step now costs over the hand-written one: 1.16-1.22
measured (Pyro's own SVI loop: 1.24-1.42), hence the target <= 1.25.
"""

from __future__ import annotations

import math

import pyro
import torch
import torch.nn.functional as F
from pyro import infer

import pgm
from inference.config import resolve_config
from inference.trainer import Trainer

from .timing import binary_images, compare

__all__ = ["hand_written_loss", "run"]

BATCH = 128
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
CONFIG = {
    "model": "vae",
    "image_shape": [1, 28, 28],
    "num_levels": 2,
    "hidden_dim": 400,
    "latent_dim": 50,
    "network": "mlp",
    "likelihood": "bernoulli",
    "elbo": "trace",
    "batch_size": BATCH,
    "lr": 1e-3,
    "device": "cpu",
    "epochs": 1,
}


def hand_written_loss(model, xb: torch.Tensor) -> torch.Tensor:
    """The negative single-sample ELBO per image, by formula (Kingma & Welling 2014, eq. 10),
    from the VAE's own networks: what a hand-written PyTorch VAE computes."""
    posterior, decoder = model.posterior, model.likelihood.decoder
    h = posterior.encoder(xb)  # the last hidden layer, already activated
    loc, scale = posterior.loc(h), F.softplus(posterior.scale(h)) + 1e-4
    eps = torch.randn_like(loc)
    z = loc + scale * eps
    logits = decoder(z)[..., 0]
    log_px = -F.binary_cross_entropy_with_logits(logits, xb, reduction="none").flatten(1).sum(1)
    log_pz = (-0.5 * z**2 - _HALF_LOG_2PI).sum(1)
    log_qz = (-0.5 * eps**2 - scale.log() - _HALF_LOG_2PI).sum(1)
    return -(log_px + log_pz - log_qz).sum() / xb.shape[0]


def _hand_written_epoch(model, optimizer, x: torch.Tensor, epoch: int) -> float:
    """One epoch of the textbook training loop over the same networks and batches."""
    n = x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
    total = 0.0
    for i in range(math.ceil(n / BATCH)):
        xb = x[order[i * BATCH : (i + 1) * BATCH]]
        loss = hand_written_loss(model, xb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * xb.shape[0]
    return total / n


def _pyro_svi_epoch(svi: infer.SVI, x: torch.Tensor, epoch: int) -> None:
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(epoch))
    for i in range(math.ceil(x.shape[0] / BATCH)):
        svi.step(x[order[i * BATCH : (i + 1) * BATCH]])


def run(quick: bool, data_dir: str | None = None) -> dict:
    steps = 8 if quick else 20
    rounds = 5 if quick else 9
    x, source = binary_images("train", steps * BATCH, data_dir)
    torch.manual_seed(0)
    cfg = resolve_config({**CONFIG, "epochs": 10**6})
    model = pgm.build(cfg)

    def trainer_epoch(trainer: Trainer):
        def epoch():
            # one more epoch of the same run (its config allows many)
            trainer.fit(x, None, progress=False, max_epochs=trainer.epoch + 1)

        return epoch

    suite = Trainer(cfg, model)
    suite.prepare(x)
    hand_optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    hand_epochs = iter(range(10**6))

    def pyro_model(xb):
        pyro.module("vae", model)
        model.model(xb)

    def pyro_guide(xb):
        pyro.module("vae", model)
        model.guide(xb)

    pyro.clear_param_store()
    svi = infer.SVI(pyro_model, pyro_guide, pyro.optim.Adam({"lr": cfg["lr"]}), infer.Trace_ELBO())
    svi_epochs = iter(range(10**6))
    timings = compare(
        {
            "suite": trainer_epoch(suite),
            "hand": lambda: _hand_written_epoch(model, hand_optimizer, x, next(hand_epochs)),
            "pyro_svi": lambda: _pyro_svi_epoch(svi, x, next(svi_epochs)),
        },
        rounds=rounds,
    )
    pyro.clear_param_store()
    per_step = {k: t.seconds / steps * 1e3 for k, t in timings.items()}
    ratio = per_step["suite"] / per_step["hand"]
    return {
        "name": "svi_step",
        "suite": "pgm Trainer.fit step: VAE model/guide, Pyro's Trace_ELBO, Adam, NaN guard",
        "baseline": "hand-written PyTorch step, same networks, loss and Adam",
        "suite_ms": round(per_step["suite"], 3),
        "baseline_ms": round(per_step["hand"], 3),
        "ratio": round(ratio, 3),
        "target": "<= 1.25",
        "passed": ratio <= 1.25,
        "reference": {
            "pyro_SVI_ms": round(per_step["pyro_svi"], 3),
            "pyro_SVI_ratio": round(per_step["pyro_svi"] / per_step["hand"], 3),
        },
        "wall_ms": {k: round(t.wall_seconds / steps * 1e3, 3) for k, t in timings.items()},
        "setup": f"batch {BATCH}, MLP 784-400-400-50 / 50-400-400-784, "
        f"{steps} steps per timed epoch, {rounds} interleaved rounds, data: {source}",
    }
