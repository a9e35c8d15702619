"""``pgm compare`` (and the last step of ``pgm suite``): evaluate several runs on the same test
images and write a statistical report.

:func:`compare_runs` checks its options, loads the runs (:mod:`.compared_run`, checked to be
comparable), and hands one :class:`~.comparison.Comparison` to every report section in turn
(:data:`~.sections.SECTIONS`: each computes its records, then draws its figures from them); then
``results.json``, ``idata.nc`` (ArviZ, :mod:`.inference_data`), ``report.md``, ``report.html``
and ``tables.tex`` (:mod:`.report`) are swapped into the output folder whole
(:mod:`.report_swap`).
"""

from __future__ import annotations

import functools
import json
import math
import time
from pathlib import Path

import numpy as np

from inference import read_metrics
from inference.atomic_write import atomic_write_bytes, atomic_write_text
from pgm.data import config_dataset
from pgm.errors import PgmError

from .compared_run import load_runs
from .comparison import CompareOptions, Comparison
from .convergence import convergence
from .figures import FigureFile
from .inference_data import write_inference_data
from .report import render_html, render_latex, render_markdown
from .report_swap import check_report_folder, report_lock, write_report
from .sections import SECTIONS
from .seed_results import check_groups

__all__ = ["compare_runs"]


def _one_writer(compare):
    """Run ``compare`` holding ``out``'s report lock (:func:`.report_swap.report_lock`)."""

    @functools.wraps(compare)
    def locked(run_dirs, out, *args, **kwargs):
        out = Path(out)
        check_report_folder(out)  # a path that cannot hold a report: refused before the lock
        if any(Path(r).resolve() == out.resolve() for r in run_dirs or []):
            raise PgmError(
                f"--out: expected a folder apart from the runs compared; found {out}, one of them "
                "(its report files would mix with the run's own)"
            )
        with report_lock(out):
            return compare(run_dirs, out, *args, **kwargs)

    return locked


@_one_writer
def compare_runs(
    run_dirs: list[str | Path],
    out: str | Path,
    num_particles: int = 500,
    split: str = "test",
    data_dir: str | None = None,
    num_images: int | None = None,
    seed: int = 0,
    progress: bool = True,
    *,
    alpha: float = 0.05,
    n_resamples: int = 9999,
    curve_images: int = 16,
    curve_max_particles: int = 5000,
    representation_train_images: int | None = 10000,
    ais: dict | None = None,
    log=None,
    names: list[str | None] | None = None,
    device: str = "cpu",
    groups: list[str] | None = None,
) -> dict:
    """Evaluate every run on the same images and write the report into ``out``.

    :param run_dirs: run folders written by ``pgm train`` (the same data for all).
    :param num_particles: K importance samples per image for latent models.
    :param num_images: evaluate only the first N images of ``split``.
    :param alpha: family-wise error rate of the pairwise comparisons (Holm).
    :param n_resamples: bootstrap and sign-flip resamples.
    :param curve_images: test images for the estimate-against-K curves (0: none).
    :param curve_max_particles: the largest K of those curves.
    :param representation_train_images: cap on the training images for the linear probe.
    :param ais: also estimate every latent model by AIS and BDMC (:mod:`.ais_agreement`):
        ``{"num_steps": T, "num_chains": C, "bdmc_images": n, ...}`` (other keys go to
        :func:`evaluation.ais.ais`); ``None``: importance sampling only.
    :param log: where progress lines go (default: stderr, above the progress bars:
        :func:`inference.progress.log_line`); silent unless ``progress``.
    :param names: the name each run gets in the report (``None``: its folder's name).
    :param device: where the models run (``cpu``, ``cuda``, ``auto``).
    :param groups: ``--group NAME=RUN,RUN,...`` specs: runs compared as seeds of one model (runs
        whose configs differ only in ``seed`` are grouped without it; :mod:`.replicates`).
    :returns: the results (also ``out/results.json``).
    """
    _check_options(num_particles, curve_images, curve_max_particles, alpha)
    started = time.perf_counter()
    options = CompareOptions(
        num_particles=num_particles,
        split=split,
        data_dir=data_dir,
        num_images=num_images,
        seed=seed,
        progress=progress,
        alpha=alpha,
        n_resamples=n_resamples,
        curve_images=curve_images,
        curve_max_particles=curve_max_particles,
        representation_train_images=representation_train_images,
        ais=ais,
        groups=None if groups is None else tuple(groups),
    )
    out = Path(out)
    check_report_folder(out)  # every input is checked before anything is created
    runs = load_runs(run_dirs, names, device)
    check_groups([r for r in runs if r.has_density], groups)  # refused before any evaluation
    c = _start(options, runs, out, log)
    for section in SECTIONS:
        if section.compute is not None:
            section.compute(c)
    with c.timed("figures"):
        figures = [f for s in SECTIONS if s.figures is not None for f in s.figures(c)]
    c.results["figures"] = [f"figures/{f.name}" for f in figures]
    c.results["vector_figures"] = [f"figures/{f.svg_name}" for f in figures if f.svg is not None]
    results = _write(c, figures, started)
    c.say(f"  report: {out / 'report.html'} ({results['method']['seconds']:.1f} s)")
    return results


def _check_options(num_particles, curve_images, curve_max_particles, alpha) -> None:
    if not isinstance(num_particles, int) or isinstance(num_particles, bool) or num_particles < 1:
        raise PgmError(f"num_particles: expected an integer >= 1; found {num_particles!r}")
    if not isinstance(curve_max_particles, int) or curve_max_particles < 1:
        raise PgmError(
            f"curve_max_particles: expected an integer >= 1; found {curve_max_particles!r}"
        )
    if isinstance(curve_images, bool) or not isinstance(curve_images, int) or curve_images < 0:
        raise PgmError(f"--curve-images: expected an integer >= 0; found {curve_images!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise PgmError(f"--alpha: expected a number in (0, 1); found {alpha!r}")


def _start(options: CompareOptions, runs, out: Path, log) -> Comparison:
    """The comparison before any section: the test images, each run's metrics and convergence
    record (read once, for every section and figure), and the results' keys in their order."""
    if log is None:
        from inference.progress import log_line

        log = log_line  # on stderr, above a live progress bar instead of through it
    data = config_dataset(runs[0].cfg, options.split, options.data_dir).subset(options.num_images)
    c = Comparison(
        options, runs, data, data.float_images(), out, log if options.progress else _silent
    )
    c.metrics = {r.name: read_metrics(r.path) for r in runs}
    c.convergences = {name: convergence(m) for name, m in c.metrics.items()}
    keys = ("models", "comparisons", "ranking", "representation", "models_without_density")
    c.results = {**{k: [] for k in keys}, "k_curves": {}, "warnings": [], "notes": []}
    c.results["method"] = {}
    return c


def _silent(*_) -> None:
    return None


def _write(c: Comparison, figures: list[FigureFile], started: float) -> dict:
    """Every report file into a fresh folder, swapped in whole for the old report
    (:mod:`.report_swap`); returns the results as written to ``results.json``."""
    results = c.results
    written: dict = {}

    def write(folder: Path) -> None:
        with c.timed("inference_data"):
            for f in figures:
                atomic_write_bytes(folder / "figures" / f.name, f.png)
                if f.svg is not None:
                    atomic_write_bytes(folder / "figures" / f.svg_name, f.svg)
            o = c.options
            write_inference_data(
                folder / "idata.nc",
                c.runs,
                c.data,
                {
                    "dataset": c.data.name,
                    "split": o.split,
                    "num_particles": o.num_particles,
                    "seed": o.seed,
                },
                {m["model"]: m.get("replicate_of") or m["model"] for m in results["models"]},
            )
        results["timing_seconds"] = {k: round(v, 3) for k, v in c.timing.items()}
        results["method"]["seconds"] = time.perf_counter() - started
        results["timing_seconds"]["total"] = round(results["method"]["seconds"], 3)
        atomic_write_text(
            folder / "results.json",
            json.dumps(_jsonable(results), indent=2, allow_nan=False) + "\n",
        )
        written.update(json.loads((folder / "results.json").read_text()))
        atomic_write_text(folder / "report.md", render_markdown(written, figures))
        atomic_write_text(folder / "report.html", render_html(written, figures))
        atomic_write_text(folder / "tables.tex", render_latex(written))

    write_report(c.out, write)
    return written


def _jsonable(value):
    """NaN/inf (undefined statistics) as null, numpy scalars as Python numbers, for strict JSON."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
