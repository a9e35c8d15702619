"""``pgm compare``: evaluate several runs on the same test images and write the results."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from inference.checkpoint import atomic_write_text

from .evaluate_run import evaluate_run, summarise
from .images import save_grid

__all__ = ["compare_runs"]


def compare_runs(
    run_dirs: list[str | Path],
    out: str | Path,
    num_particles: int = 1000,
    split: str = "test",
    data_dir: str | None = None,
    num_images: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Evaluate every run on the same images; write ``results.json`` and sample grids to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for run in run_dirs:
        name = Path(run).name
        model, cfg, data, est = evaluate_run(
            run, num_particles, split, data_dir, num_images, seed=seed, progress=progress
        )
        if est is None:
            continue
        rows.append(summarise(name, cfg, est, data.num_dims, model.has_latents))
        torch.manual_seed(seed)
        save_grid(model.sample(64), model.num_levels, out / f"samples-{name}.png")
    results = {"split": split, "models": rows}
    atomic_write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    return results
