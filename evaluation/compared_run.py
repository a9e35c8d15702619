"""The runs a comparison evaluates: each run folder loaded with the name the report gives it,
its model and config, and what the comparison learns about it on the way.

:func:`load_runs` checks what makes runs comparable (a name for each, the same data, at least
one density model) before any estimate is made; :class:`ComparedRun` says what each model can
do (density, latents, codes, completion, sampling), and gives the report's description of it
and the record of how it was trained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from inference import load_run, read_metrics
from pgm.errors import PgmError
from pgm.parts import FullyObservedAutoregressive
from pgm.validation import check_unique

from .log_likelihood import Estimate

__all__ = ["ComparedRun", "load_runs", "relative_to_report", "unique_names"]


@dataclass
class ComparedRun:
    """One run being compared: its display name, folder, model and config, and what the
    comparison learns about it on the way."""

    name: str
    path: Path
    model: torch.nn.Module
    cfg: dict
    est: Estimate | None = None
    row: dict = field(default_factory=dict)
    khat: np.ndarray | None = None
    ess: np.ndarray | None = None
    activity: np.ndarray | None = None
    test_codes: np.ndarray | None = None
    ais: torch.Tensor | None = None

    @property
    def has_density(self) -> bool:
        return bool(self.model.has_density)

    @property
    def has_latents(self) -> bool:
        return bool(self.model.has_density and self.model.has_latents)

    @property
    def has_codes(self) -> bool:
        """VAEs and the autoencoder map x to a code (``encode``/``decode``)."""
        return (self.model.has_latents or not self.model.has_density) and hasattr(
            self.model, "encode"
        )

    @property
    def is_autoregressive(self) -> bool:
        """Fully observed with an autoregressive ``distribution()`` (what completion needs)."""
        return (
            self.model.has_density
            and not self.model.has_latents
            and isinstance(self.model, FullyObservedAutoregressive)
        )

    @property
    def can_sample(self) -> bool:
        return self.model.has_density and getattr(self.model, "can_sample", True)

    def describe(self) -> str:
        """What was built (``model.describe()``, from the built parts) and, for latent models,
        the objective it was trained with: ``..., trained on the iwae ELBO (K = 8)``."""
        model, cfg = self.model, self.cfg
        text = model.describe() if hasattr(model, "describe") else str(cfg.get("model"))
        text = _registered_descriptions(text, model, cfg)
        if self.has_latents and "elbo" in cfg:
            k = cfg.get("num_particles", 1)
            text += f"; trained on the {cfg['elbo']} ELBO" + (f" (K = {k})" if k and k > 1 else "")
        return text

    def training_method(self, out: Path) -> dict:
        """How the run was trained: its folder (relative to the report folder ``out``),
        architecture, seed, the epoch budget and the epochs it ran (fewer with early stopping:
        ``early_stopping_patience``), and its training time."""
        metrics = read_metrics(self.path)
        return {
            "path": relative_to_report(self.path, out),
            "architecture": self.cfg.get("model"),
            "seed": self.cfg.get("seed"),
            "epochs": self.cfg.get("epochs"),
            "epochs_run": metrics[-1]["epoch"] if metrics else None,
            "patience": self.cfg.get("early_stopping_patience", 0),
            "train_seconds": round(sum(float(m.get("seconds") or 0) for m in metrics), 1),
        }


def _registered_descriptions(text: str, model, cfg: dict) -> str:
    """``text`` with each class name that stands for a part without its own ``describe()`` (a
    plug-in's ``StudentTPrior``, a hand-written model's ``PlainModel``) replaced by the
    description it was registered with (``@PRIORS.register(name, doc)``), where there is one."""
    from pgm.parts import describe
    from pgm.registry import GUIDES, LIKELIHOODS, MODELS, PRIORS

    parts = [
        (MODELS, cfg.get("model"), model),
        (PRIORS, cfg.get("prior"), getattr(model, "prior", None)),
        (GUIDES, cfg.get("guide"), getattr(model, "posterior", None)),
        (LIKELIHOODS, cfg.get("likelihood"), getattr(model, "likelihood", None)),
    ]
    for registry, name, part in parts:
        if part is None or not isinstance(name, str):
            continue
        if describe(part) != type(part).__name__:
            continue  # the part says what it is
        doc = registry.describe(name) if name in registry else ""
        if doc and type(part).__name__ in text:
            text = text.replace(type(part).__name__, doc, 1)
    return text


def relative_to_report(path: Path, out: Path) -> str:
    """``path`` relative to the report folder ``out`` (``runs/vae``), so a report folder moves
    whole."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(out).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return str(path)


def unique_names(paths: list[Path]) -> list[str]:
    """Folder names, made unique (``vae``, ``vae#2``) when two folders share a name: every row
    of the report must name one evaluation."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        base = p.name or str(p)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return names


def load_runs(
    run_dirs: list[str | Path], names: list[str | None] | None = None, device: str = "cpu"
) -> list[ComparedRun]:
    """Load every run folder, each under its name (``names[i]``, or its folder's name made
    unique), refusing in one line: no runs, a run folder or label given more than once, or
    equal to another run's folder name, runs trained on different data, or no model with a
    density p(x)."""
    if not run_dirs:
        raise PgmError("runs: expected at least one run folder; found none")
    paths = [Path(r) for r in run_dirs]
    names = list(names) if names is not None else [None] * len(paths)
    if len(names) != len(paths):
        raise ValueError(f"names: expected one per run ({len(paths)}); found {len(names)}")
    # the same run twice would be compared with itself (a difference of 0, p = 1) and would
    # enlarge Holm's family, changing every other pair's adjusted p-value
    check_unique(map(str, paths), "runs", "each run folder", keys=[p.resolve() for p in paths])
    check_unique([n for n in names if n], "--label", "each label")
    # a labelled run is called by its label; the others by their folder, made unique
    default = unique_names(
        [p if not n else Path(f"\0{i}") for i, (p, n) in enumerate(zip(paths, names, strict=True))]
    )
    chosen = [n or d for n, d in zip(names, default, strict=True)]
    clash = sorted({c for c in chosen if chosen.count(c) > 1})
    if clash:
        raise PgmError(
            "--label: expected names unlike the other runs' folder names; "
            f"found {clash[0]!r} for two runs"
        )
    runs = []
    for name, path in zip(chosen, paths, strict=True):
        model, cfg = load_run(path, device=device)
        read_metrics(path)  # a corrupted metrics.jsonl is refused now, not after the estimates
        runs.append(ComparedRun(name, path, model, cfg))
    first = runs[0]
    for r in runs[1:]:
        mismatch = [
            k for k in ("data", "image_shape", "num_levels") if r.cfg.get(k) != first.cfg.get(k)
        ]
        if mismatch:
            k = mismatch[0]
            raise PgmError(
                f"runs: expected every run to be trained on the same data (the comparison pairs "
                f"models on the same test images); found {k} = {first.cfg.get(k)!r} for "
                f"{first.name} and {r.cfg.get(k)!r} for {r.name}"
            )
    if not any(r.has_density for r in runs):
        raise PgmError(
            "runs: expected at least one model with a density p(x) (a VAE or an autoregressive "
            "model); found only models without one (autoencoders)"
        )
    return runs
