"""BDMC for one trained run: the row ``pgm bdmc`` writes (AIS on a run is the ``ais``
estimator, run by :mod:`.evaluate_command`)."""

from __future__ import annotations

from pathlib import Path

import torch

from inference import load_run
from pgm.errors import PgmError

from .bdmc import bdmc
from .defaults import DEFAULT_CHAINS, DEFAULT_STEPS

__all__ = ["bdmc_run"]


def _load_density_run(run_dir: str | Path, device: str):
    model, cfg = load_run(run_dir, device=device)
    if not model.has_density:
        raise PgmError(
            f"run: expected a model that defines a density p(x); found {run_dir} holding a "
            f"{cfg['model']}, which has none: there is no log-likelihood to estimate"
        )
    return model, cfg


def bdmc_run(
    run_dir: str | Path,
    num_images: int = 32,
    num_steps: int = DEFAULT_STEPS,
    num_chains: int = DEFAULT_CHAINS,
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
