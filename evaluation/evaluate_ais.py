"""AIS and BDMC for one trained run: the rows ``pgm evaluate --method ais`` and ``pgm bdmc``
write."""

from __future__ import annotations

from pathlib import Path

import torch

from inference import load_run
from pgm.data import config_dataset
from pgm.errors import PgmError

from .ais import ais
from .bdmc import bdmc
from .log_likelihood import bits_per_dim

__all__ = ["bdmc_run", "evaluate_run_ais"]


def _load_density_run(run_dir: str | Path, device: str):
    model, cfg = load_run(run_dir, device=device)
    if not model.has_density:
        raise PgmError(
            f"run: expected a model that defines a density p(x); found {run_dir} holding a "
            f"{cfg['model']}, which has none: there is no log-likelihood to estimate"
        )
    return model, cfg


def evaluate_run_ais(
    run_dir: str | Path,
    num_steps: int = 1000,
    num_chains: int = 16,
    split: str = "test",
    data_dir: str | None = None,
    num_images: int | None = None,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = False,
    **ais_kwargs,
) -> dict:
    """The AIS estimate of a run on ``split`` (the first ``num_images``): mean nats per image,
    bits/dim, the chains' standard error and acceptance rate."""
    model, cfg = _load_density_run(run_dir, device)
    data = config_dataset(cfg, split, data_dir).subset(num_images)
    torch.manual_seed(seed)
    result = ais(
        model, None, data.float_images(), num_steps, num_chains, progress=progress, **ais_kwargs
    )
    ll = result.log_likelihood
    finite_se = result.standard_error[torch.isfinite(result.standard_error)]
    return {
        "model": Path(run_dir).name,
        "architecture": cfg["model"],
        "method": "ais",
        "split": split,
        "log_likelihood_nats": float(ll.mean()),
        "bits_per_dim": float(bits_per_dim(ll.mean(), data.num_dims)),
        "num_dims": data.num_dims,
        "num_images": int(ll.numel()),
        "num_steps": result.num_steps,
        "num_chains": result.num_chains,
        "chain_standard_error_nats": float(finite_se.mean()) if finite_se.numel() else None,
        "accept_rate": float(result.accept_rate.mean()),
        "seed": seed,
    }


def bdmc_run(
    run_dir: str | Path,
    num_images: int = 32,
    num_steps: int = 1000,
    num_chains: int = 16,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = False,
    **ais_kwargs,
) -> dict:
    """BDMC bounds on ``num_images`` images simulated from a run's model: mean lower and upper
    bound in nats, the mean gap and the largest."""
    model, cfg = _load_density_run(run_dir, device)
    torch.manual_seed(seed)
    result = bdmc(model, None, num_images, num_steps, num_chains, progress=progress, **ais_kwargs)
    return {
        "model": Path(run_dir).name,
        "architecture": cfg["model"],
        "num_images": num_images,
        "num_steps": num_steps,
        "num_chains": num_chains,
        "lower_nats": float(result.lower.mean()),
        "upper_nats": float(result.upper.mean()),
        "gap_nats": float(result.gap.mean()),
        "gap_max_nats": float(result.gap.max()),
        "seed": seed,
    }
