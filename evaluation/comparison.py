"""The state of one comparison while the report's sections compute on it: the options it was
asked for, the runs with what is learnt about each (:class:`~.compared_run.ComparedRun`), the
test images, and the ``results`` (``results.json``) the sections fill in, with the warnings and
notes they raise and the time each step took."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pgm.data import ImageDataset

from .compared_run import ComparedRun

__all__ = ["CompareOptions", "Comparison"]


@dataclass(frozen=True)
class CompareOptions:
    """What ``pgm compare`` was asked for (see :func:`~.compare.compare_runs`)."""

    num_particles: int = 500
    split: str = "test"
    data_dir: str | None = None
    num_images: int | None = None
    seed: int = 0
    progress: bool = True
    alpha: float = 0.05
    n_resamples: int = 9999
    curve_images: int = 16
    curve_max_particles: int = 5000
    representation_train_images: int | None = 10000
    ais: dict | None = None
    #: ``--group NAME=RUN,RUN,...`` specs: runs compared as seeds of one model (:mod:`.replicates`)
    groups: tuple[str, ...] | None = None


@dataclass
class Comparison:
    """One comparison in progress. Sections read ``runs``/``dense``/``x`` and the records earlier
    sections wrote, and write their own: rows of ``results``, ``warnings`` (as
    :func:`~.warning_record.warning_record` dicts), ``notes``."""

    options: CompareOptions
    runs: list[ComparedRun]
    data: ImageDataset
    x: torch.Tensor
    out: Path
    say: Callable[[str], None]
    #: each run's metrics.jsonl rows and :func:`~.convergence.convergence` record, read once
    metrics: dict[str, list[dict]] = field(default_factory=dict)
    convergences: dict[str, dict] = field(default_factory=dict)
    #: the density models, best first once the ranking section has run
    dense: list[ComparedRun] = field(default_factory=list)
    #: the density runs grouped into models (:class:`~.replicates.ModelGroup`: the seeds of one
    #: config, or a ``--group``), by the ranking section
    model_groups: list = field(default_factory=list)
    results: dict = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def latent(self) -> list[ComparedRun]:
        """The latent-variable density models, in the ranking's order."""
        return [r for r in self.dense if r.has_latents]

    @property
    def warnings(self) -> list[dict]:
        return self.results["warnings"]

    @property
    def notes(self) -> list[str]:
        return self.results["notes"]

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Add the seconds the block takes to ``timing[step]``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timing[step] = self.timing.get(step, 0.0) + time.perf_counter() - started
