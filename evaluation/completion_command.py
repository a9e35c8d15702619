"""``pgm complete``'s work: completions from p(x_missing | x_observed) for any mask by sampling
importance resampling (:func:`pgm.completion.complete_sir`), the labelled figure, the summary
with the effective sample size."""

from __future__ import annotations

from pathlib import Path

import torch

from inference.atomic_write import atomic_write_bytes
from pgm.completion import complete_sir

from .completion_figure import completion_png

__all__ = ["complete_and_draw", "observed_first"]


def complete_and_draw(model, x: torch.Tensor, mask: torch.Tensor, args, out: Path) -> dict:
    """Complete ``x`` (``args.samples`` per image from ``args.candidates`` candidates), write
    the figure to ``out``, return the summary printed."""
    exact = bool(observed_first(mask))
    candidates = 1 if exact else args.candidates
    completed, ess = complete_sir(model, x, mask, args.samples, num_candidates=candidates)
    method = (
        "exact: every observed pixel precedes every missing one in raster order"
        if exact
        else f"sampling importance resampling from {candidates} raster completions per image, "
        "reweighted by p(observed pixels that come later)"
    )
    title = (
        f"--observed {args.observed}: exact"
        if exact
        else f"--observed {args.observed}: SIR, M = {candidates}, ESS median "
        f"{float(ess.median()):.1f} (min {float(ess.min()):.1f})"
    )
    png = completion_png(x, mask, completed, model.num_levels, title)
    atomic_write_bytes(out, png)
    return {
        "completions": str(out),
        "n": int(x.shape[0]),
        "samples_per_image": args.samples,
        "columns": ["observed", *["completion"] * args.samples, "original"],
        "method": method,
        "candidates": candidates,
        "effective_sample_size": None if exact else [round(float(e), 2) for e in ess],
    }


def observed_first(mask: torch.Tensor) -> bool:
    """Whether every observed value precedes every missing one in raster order (C last)."""
    order = mask.permute(1, 2, 0).reshape(-1)  # rows, columns, then channels
    missing = (~order).nonzero()
    return missing.numel() == 0 or not order[int(missing[0]) :].any()
