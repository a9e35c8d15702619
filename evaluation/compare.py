"""``pgm compare`` (and the last step of ``pgm suite``): evaluate several runs on the same test
images and write a statistical report.

:func:`compare_runs` runs the steps in order and keeps each model's row of ``results.json`` and
its diagnostics; each step lives in the module named after its idea:

0. the run folders, loaded and checked to be comparable (:mod:`.compared_run`);
1. every density model's per-image log-likelihood and ELBO from the shared estimator
   (:mod:`.log_likelihood`), on the same images, with the K log-weights kept;
2. per-model means with bootstrap intervals, every pairwise paired test, Holm's adjustment and
   a ranking with tie groups (:mod:`.statistics`);
3. ESS, PSIS k-hat, the estimate against K, rate/distortion and active units (:mod:`.diagnostics`),
   IS against AIS where asked (:mod:`.ais_agreement`), and whether each run had converged
   (:mod:`.convergence`); every warning in one form (:mod:`.warning_record`);
4. the linear probe on latent codes, the autoencoder included (:mod:`.representation`);
5. the figures (:mod:`.report_figures`, drawn by :mod:`.figures`), the software it was made with
   (:mod:`.provenance`), and ``results.json``, ``idata.nc`` (ArviZ, :mod:`.inference_data`),
   ``report.md`` and ``report.html`` (:mod:`.report`), swapped into the output folder whole
   (:mod:`.report_swap`).
"""

from __future__ import annotations

import functools
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from inference import read_metrics
from inference.atomic_write import atomic_write_bytes, atomic_write_text
from pgm.data import ImageDataset, config_dataset
from pgm.errors import PgmError
from pgm.plain_model import PlainModel

from . import diagnostics as diag
from .compared_run import ComparedRun, load_runs, relative_to_report
from .convergence import RULE as CONVERGENCE_RULE
from .convergence import convergence, convergence_warnings
from .evaluate_run import summarise
from .inference_data import write_inference_data
from .log_likelihood import bits_per_dim, estimate
from .progress import progress_bar
from .provenance import plugin_names, versions
from .report import format_value, render_html, render_markdown
from .report_figures import report_figures
from .report_swap import check_report_folder, report_lock, write_report
from .representation import encode_all, linear_probe
from .seed_results import check_groups, seed_results  # issue 19: models over seeds
from .statistics import compare_all, rank_models, summarise_mean
from .warning_record import warning_record

__all__ = ["compare_runs"]

# what distinguishes one VAE of the suite from another, shown next to its name
# (num_particles here is the training objective's K, not the evaluation's)
_DETAIL_KEYS = ("prior", "guide", "likelihood", "elbo", "num_particles", "latent_dim")


def _interval_bits(ci: tuple[float, float] | list[float], num_dims: int) -> list[float]:
    """bits/dim decreases as log p(x) increases: the interval's ends swap."""
    return [float(bits_per_dim(ci[1], num_dims)), float(bits_per_dim(ci[0], num_dims))]


def _model_row(
    run: ComparedRun, data: ImageDataset, n_resamples: int, seed: int, out: Path
) -> dict:
    row = summarise(run.name, run.cfg, run.est, data.num_dims, run.has_latents)
    details = {k: run.cfg[k] for k in _DETAIL_KEYS if k in run.cfg} if run.has_latents else {}
    if isinstance(run.model, PlainModel):  # a hand-written pair: the VAE part keys do not apply
        details = {k: v for k, v in details.items() if k not in ("prior", "guide", "likelihood")}
        details["latent_dim"] = run.model.latent_dim
    ll = run.est.log_likelihood.double().numpy()
    s = summarise_mean(ll, n_resamples=n_resamples, seed=seed)
    conv = convergence(read_metrics(run.path))
    row.update(
        {
            "details": details,
            "description": run.describe(),
            "convergence": conv,
            "training": conv["status"],
            "has_latents": run.has_latents,
            "standard_error_nats": s.standard_error,
            "ci95": list(s.ci95),
            "bits_per_dim_ci95": _interval_bits(s.ci95, data.num_dims),
            "gap_nats": row["log_likelihood_nats"] - row["elbo_nats"] if run.has_latents else None,
            "psis_khat": None,
            "psis_khat_max": None,
            "psis_khat_unreliable_fraction": None,
            "ess_mean": None,
            "ess_min": None,
            "rate_nats": None,
            "distortion_nats": None,
            "active_units": None,
            "latent_dim": int(run.model.latent_dim) if run.has_latents else None,
            "status": "ok",
            "run": relative_to_report(run.path, out),
        }
    )
    return row


def _latent_diagnostics(run: ComparedRun, x: torch.Tensor, seed: int, warnings: list[dict]) -> None:
    """ESS and k-hat from the kept weights, rate/distortion, active units; fills ``run.row``."""
    lw = run.est.log_weights
    run.khat = diag.psis_khat(lw)
    run.ess = diag.effective_sample_size(lw)
    finite = run.khat[np.isfinite(run.khat)]
    unreliable = float((finite > diag.KHAT_UNRELIABLE).mean()) if finite.size else None
    torch.manual_seed(seed)
    rate, distortion = diag.rate_distortion(run.model, x)
    torch.manual_seed(seed)
    codes = diag.posterior_mean(run.model, x.to(run.model.device))
    num_active, run.activity = diag.active_units(codes)
    run.row.update(
        {
            "psis_khat": float(np.median(finite)) if finite.size else None,
            "psis_khat_max": float(finite.max()) if finite.size else None,
            "psis_khat_unreliable_fraction": unreliable,
            "ess_mean": float(run.ess.mean()),
            "ess_min": float(run.ess.min()),
            "rate_nats": float(rate.double().mean()),
            "distortion_nats": float(distortion.double().mean()),
            "active_units": num_active,
        }
    )
    status = []
    collapse = diag.collapse_warning(
        run.name, run.row["rate_nats"], num_active, run.row["latent_dim"]
    )
    if collapse:
        warnings.append(
            warning_record(
                "posterior-collapse",
                run.name,
                "rate_nats",
                run.row["rate_nats"],
                diag.COLLAPSE_RATE_NATS,
                collapse,
            )
        )
        status.append("posterior collapse")
    elif num_active < run.row["latent_dim"] / 2:
        inactive = run.row["latent_dim"] - num_active
        status.append(f"partial collapse ({inactive} units inactive)")
        warnings.append(
            warning_record(
                "partial-collapse",
                run.name,
                "active_units",
                num_active,
                run.row["latent_dim"] / 2,
                f"{run.name}: partial posterior collapse — {inactive} of "
                f"{run.row['latent_dim']} latent "
                f"units inactive (Cov_x(E_q[z_u|x]) ≤ {diag.ACTIVE_UNIT_THRESHOLD}), rate "
                f"{format_value(run.row['rate_nats'], '.2f')} nats: the model uses few of its "
                "latent dimensions",
            )
        )
    if unreliable:
        warnings.append(
            warning_record(
                "khat-unreliable",
                run.name,
                "psis_khat_unreliable_fraction",
                unreliable,
                diag.KHAT_UNRELIABLE,
                f"{run.name}: PSIS k-hat > {diag.KHAT_UNRELIABLE} on {100 * unreliable:.1f}% "
                f"of test images (max {run.row['psis_khat_max']:.2f}): the importance-sampled "
                "log-likelihood is unreliable there (Vehtari et al. 2024): the weights are "
                "heavy-tailed, q(z|x) has lighter tails than the posterior or misses part of it, "
                "so the estimate converges slowly in K and is likely biased low",
            )
        )
        status.append("k-hat unreliable")
    run.row["status"] = "; ".join(status) or "ok"


def _representation(
    runs: list[ComparedRun],
    cfg: dict,
    split_data: ImageDataset,
    data_dir,
    max_train: int | None,
    seed: int,
    progress: bool,
) -> list[dict]:
    """Linear probe on raw pixels (the reference) and on each coded model's E_q[z|x]."""
    coded = [r for r in runs if r.has_codes]
    if split_data.labels is None or not coded:
        return []
    train = config_dataset(cfg, "train", data_dir).subset(max_train)
    if train.labels is None:
        return []
    xtr, ytr = train.float_images(), train.labels.numpy()
    xte, yte = split_data.float_images(), split_data.labels.numpy()
    rows = [
        linear_probe(
            "pixels",
            "raw pixels",
            xtr.flatten(1).numpy(),
            ytr,
            xte.flatten(1).numpy(),
            yte,
            seed=seed,
        ).as_dict()
    ]
    for run in progress_bar(coded, "linear probe", progress):
        torch.manual_seed(seed)
        train_codes = encode_all(run.model, xtr)
        kind = "E_q[z|x]" if run.model.has_density else "code (encoder output)"
        rows.append(
            linear_probe(run.name, kind, train_codes, ytr, run.test_codes, yte, seed=seed).as_dict()
        )
    return rows


def _ais_section(
    dense, x, ais: dict, seed: int, n_resamples: int, progress: bool, warnings: list[dict], say
) -> dict:
    """IS against AIS and the BDMC gap for every latent model; fills ``run.ais``."""
    from .ais_agreement import ais_agreement, ais_settings

    options = dict(ais)
    steps, chains = options.pop("num_steps"), options.pop("num_chains")
    bdmc_images = options.pop("bdmc_images", 16)
    rows = []
    for run in [r for r in dense if r.has_latents]:
        say(
            f"  AIS: {run.name} (T = {steps}, {chains} chains, {len(x)} images; "
            f"BDMC on {bdmc_images})"
        )
        row, run.ais, warning = ais_agreement(
            run.name,
            run.model,
            x,
            run.est.log_likelihood,
            steps,
            chains,
            bdmc_images=bdmc_images,
            seed=seed,
            n_resamples=n_resamples,
            progress=progress,
            **options,
        )
        run.row["ais_log_likelihood_nats"] = row["ais_nats"]
        run.row["ais_minus_is_nats"] = row["difference_nats"]
        rows.append(row)
        if warning:  # IS and AIS disagree, or the BDMC gap says AIS has not converged
            warnings.append(
                warning_record(
                    "ais-unreliable",
                    run.name,
                    "ais_minus_is_nats",
                    row["difference_nats"],
                    None,
                    warning,
                )
            )
    return {"settings": ais_settings(steps, chains, bdmc_images, **options), "models": rows}


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
    :param log: where progress lines go (default: ``tqdm.write``); silent unless ``progress``.
    :param names: the name each run gets in the report (``None``: its folder's name).
    :param groups: ``--group NAME=RUN,RUN,...`` specs: runs compared as seeds of one model
        (runs whose configs differ only in ``seed`` are grouped without it; :mod:`.replicates`).
    :returns: the results (also ``out/results.json``).
    """
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
    started = time.perf_counter()
    if log is None:
        from tqdm.auto import tqdm

        log = tqdm.write  # prints above a live progress bar instead of through it
    say = log if progress else (lambda *_: None)
    out = Path(out)
    check_report_folder(out)  # every input is checked before anything is created
    runs = load_runs(run_dirs, names)
    manual_groups = check_groups([r for r in runs if r.has_density], groups)  # issue 19
    cfg0 = runs[0].cfg
    data = config_dataset(cfg0, split, data_dir).subset(num_images)
    x = data.float_images()
    timing: dict[str, float] = {}

    # 1. the shared estimator on the same images
    t = time.perf_counter()
    dense = [r for r in runs if r.has_density]
    for run in dense:
        say(
            f"  log-likelihood: {run.name} (K = {num_particles if run.has_latents else 1}, "
            f"{len(x)} images)"
        )
        torch.manual_seed(seed)
        run.est = estimate(
            run.model, None, x, num_particles, return_log_weights=True, progress=progress
        )
        run.row = _model_row(run, data, n_resamples, seed, out)
    timing["log_likelihood"] = time.perf_counter() - t

    # 2. statistics: best first, so that each comparison's a is the better model
    t = time.perf_counter()
    dense.sort(key=lambda r: -r.row["log_likelihood_nats"])
    lls = {r.name: r.est.log_likelihood.double().numpy() for r in dense}
    comparisons = compare_all(lls, alpha=alpha, n_resamples=n_resamples, seed=seed)
    ranking = rank_models(
        [r.name for r in dense], [r.row["log_likelihood_nats"] for r in dense], comparisons
    )
    for run, rank in zip(dense, ranking, strict=True):
        run.row.update({k: rank[k] for k in ("rank", "rank_range", "group")})
    # issue 19: the runs grouped into models, statistics with the training run as the unit
    seeds_part = seed_results(dense, manual_groups, alpha, min(n_resamples, 2000), seed)
    timing["statistics"] = time.perf_counter() - t

    # 3. diagnostics of the latent models
    t = time.perf_counter()
    warnings: list[dict] = []
    curves: dict[str, dict] = {}
    n_curve = min(curve_images, len(x))
    for run in progress_bar([r for r in dense if r.has_latents], "diagnostics", progress):
        _latent_diagnostics(run, x, seed, warnings)
        if n_curve:
            curves[run.name] = diag.estimate_vs_particles(
                run.model, x[:n_curve], curve_max_particles, seed=seed
            ).as_dict()
    timing["diagnostics"] = time.perf_counter() - t
    ais_section = (
        _ais_section(dense, x, ais, seed, n_resamples, progress, warnings, say) if ais else None
    )
    timing["ais"] = time.perf_counter() - t - timing["diagnostics"]

    # 4. representation: codes of the test images (kept for the traversal figures), linear probe
    t = time.perf_counter()
    for run in runs:
        if run.has_codes:
            torch.manual_seed(seed)
            run.test_codes = encode_all(run.model, x)
    representation = _representation(
        runs, cfg0, data, data_dir, representation_train_images, seed, progress
    )
    timing["representation"] = time.perf_counter() - t

    comparison_rows = [c.as_dict() for c in comparisons]
    convergences = {
        r.name: r.row.get("convergence") or convergence(read_metrics(r.path)) for r in runs
    }
    warnings += convergence_warnings(convergences, comparison_rows)
    rows = [r.row for r in dense]
    results = {
        "seeds": seeds_part,  # issue 19 (seed_results.py)
        "models": rows,
        "comparisons": comparison_rows,
        "ranking": ranking,
        "representation": representation,
        "models_without_density": [
            {
                "model": r.name,
                "architecture": r.cfg.get("model"),
                "description": r.describe(),
                "reason": "defines no density p(x), so it has no log-likelihood to rank",
                "convergence": convergence(read_metrics(r.path)),
                "run": relative_to_report(r.path, out),
            }
            for r in runs
            if not r.has_density
        ],
        "k_curves": curves,
        "warnings": warnings,
        "notes": [],
        "method": {
            "dataset": data.name,
            "split": split,
            "num_images": len(x),
            "num_dims": int(data.num_dims),
            "num_levels": int(data.num_levels),
            "num_particles": num_particles,
            "seed": seed,
            "alpha": alpha,
            "confidence_level": 0.95,
            "bootstrap": "BCa",
            "n_resamples": n_resamples,
            "test": "paired two-sided sign-flip randomisation test of the mean difference",
            "adjustment": "holm",
            "num_comparisons": len(comparisons),
            "khat_unreliable": diag.KHAT_UNRELIABLE,
            "curve_images": n_curve,
            "curve_max_particles": curve_max_particles,
            "active_unit_threshold": diag.ACTIVE_UNIT_THRESHOLD,
            "convergence_rule": CONVERGENCE_RULE,
            "runs": {
                r.name: {**r.training_method(out), "plugins": plugin_names(r.cfg)} for r in runs
            },
            "versions": versions(),
        },
    }

    if ais_section is not None:
        results["ais"] = ais_section

    # 5. figures and files
    t = time.perf_counter()
    figures = report_figures(runs, rows, curves, x, seed, progress, results["notes"])
    results["figures"] = [f"figures/{f.name}" for f in figures]
    results["vector_figures"] = [f"figures/{f.svg_name}" for f in figures if f.svg is not None]
    timing["figures"] = time.perf_counter() - t

    def write(folder: Path) -> None:
        # a fresh folder, swapped in whole for the old report when complete (report_swap.py)
        nonlocal results
        t = time.perf_counter()
        for f in figures:
            atomic_write_bytes(folder / "figures" / f.name, f.png)
            if f.svg is not None:
                atomic_write_bytes(folder / "figures" / f.svg_name, f.svg)
        write_inference_data(
            folder / "idata.nc",
            runs,
            data,
            {"dataset": data.name, "split": split, "num_particles": num_particles, "seed": seed},
        )
        timing["inference_data"] = time.perf_counter() - t
        results["timing_seconds"] = {k: round(v, 3) for k, v in timing.items()}
        results["method"]["seconds"] = time.perf_counter() - started
        results["timing_seconds"]["total"] = round(results["method"]["seconds"], 3)
        atomic_write_text(
            folder / "results.json",
            json.dumps(_jsonable(results), indent=2, allow_nan=False) + "\n",
        )
        results = json.loads((folder / "results.json").read_text())
        atomic_write_text(folder / "report.md", render_markdown(results, figures))
        atomic_write_text(folder / "report.html", render_html(results, figures))

    write_report(out, write)
    say(f"  report: {out / 'report.html'} ({results['method']['seconds']:.1f} s)")
    return results


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
