"""Evaluating one trained run on a data split with the shared estimator."""

from __future__ import annotations

from pathlib import Path

import torch

from inference import load_run
from pgm.data import config_dataset
from pgm.validation import check_int

from .log_likelihood import Estimate, bits_per_dim, estimate

__all__ = ["EVAL_PARTICLES", "evaluate_run", "summarise"]

#: K for a run whose config.json predates ``eval_particles``
EVAL_PARTICLES = 1000


def evaluate_run(
    run_dir: str | Path,
    num_particles: int | None = None,
    split: str = "test",
    data_dir: str | None = None,
    num_images: int | None = None,
    device: str = "cpu",
    seed: int = 0,
    return_log_weights: bool = False,
    progress: bool = False,
):
    """``(model, config, dataset, Estimate)`` for a run on ``split`` (the first ``num_images``),
    with K = ``num_particles`` importance samples, or the run's own ``eval_particles`` (its
    config's evaluation K) when None."""
    model, cfg = load_run(run_dir, device=device)
    if num_particles is None:
        # a session key, editable in config.json: checked here, naming the key and the file
        where = f"eval_particles (in {Path(run_dir) / 'config.json'})"
        num_particles = check_int(cfg.get("eval_particles", EVAL_PARTICLES), where, minimum=1)
    if not model.has_density:
        return model, cfg, None, None
    data = config_dataset(cfg, split, data_dir).subset(num_images)
    torch.manual_seed(seed)
    est = estimate(
        model,
        None,
        data.float_images(),
        num_particles,
        return_log_weights=return_log_weights,
        progress=progress,
    )
    return model, cfg, data, est


def summarise(name: str, cfg: dict, est: Estimate, num_dims: int, has_latents: bool) -> dict:
    """The per-model row of ``results.json``: mean nats per image, bits/dim, the ELBO."""
    ll = est.log_likelihood.double()
    row = {
        "model": name,
        "architecture": cfg["model"],
        "log_likelihood_nats": float(ll.mean()),
        "bits_per_dim": float(bits_per_dim(ll.mean(), num_dims)),
        "num_dims": num_dims,
        "num_particles": est.num_particles,
        "num_images": int(ll.numel()),
        "elbo_nats": float(est.elbo.double().mean()) if has_latents else None,
    }
    return row
