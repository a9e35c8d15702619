"""``pgm compare`` (and the last step of ``pgm suite``): evaluate several runs on the same test
images and write a statistical report.

Steps, each in the module named after its idea:

1. every density model's per-image log-likelihood and ELBO from the shared estimator
   (:mod:`.log_likelihood`), on the same images, with the K log-weights kept;
2. per-model means with bootstrap intervals, every pairwise paired test, Holm's adjustment and
   a ranking with tie groups (:mod:`.statistics`);
3. ESS, PSIS k-hat, the estimate against K, rate/distortion and active units (:mod:`.diagnostics`);
4. the linear probe on latent codes, the autoencoder included (:mod:`.representation`);
5. figures (:mod:`.figures`), and ``results.json``, ``idata.nc`` (ArviZ), ``report.md`` and
   ``report.html`` (:mod:`.report`) in the output folder.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from inference import load_run, read_metrics
from inference.atomic_write import atomic_write, atomic_write_bytes, atomic_write_text
from pgm.data import ImageDataset, config_dataset
from pgm.errors import PgmError
from pgm.parts import FullyObservedAutoregressive
from pgm.plain_model import PlainModel, SamplingUnavailable

from . import diagnostics as diag
from .convergence import RULE as CONVERGENCE_RULE
from .convergence import convergence
from .evaluate_run import summarise
from .figures import (
    FigureFile,
    activity_plot,
    completion_figure,
    forest_plot,
    interpolation_figure,
    k_curve_plot,
    khat_plot,
    reconstruction_figure,
    samples_figure,
    training_curves_plot,
    traversal_figure,
)
from .log_likelihood import Estimate, bits_per_dim, estimate
from .report import render_html, render_markdown
from .report_swap import check_report_folder, write_report
from .representation import encode_all, linear_probe
from .statistics import compare_all, rank_models, summarise_mean

__all__ = ["compare_runs", "warning_record", "write_inference_data"]

# what distinguishes one VAE of the suite from another, shown next to its name
# (num_particles here is the training objective's K, not the evaluation's)
_DETAIL_KEYS = ("prior", "guide", "likelihood", "elbo", "num_particles", "latent_dim")


def warning_record(
    code: str, model: str | None, metric: str | None, value, threshold, message: str
) -> dict:
    """One warning of ``results.json``: a machine-readable ``code`` (``posterior-collapse``,
    ``khat-unreliable``, ``not-converged``, ...), the ``model`` and ``metric`` it is about, the
    ``value`` found and the ``threshold`` it crossed, and the sentence the report prints."""
    return {
        "code": code,
        "model": model,
        "metric": metric,
        "value": value,
        "threshold": threshold,
        "message": message,
    }


@dataclass
class _Run:
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


def _unique_names(paths: list[Path]) -> list[str]:
    """Folder names, made unique (``vae``, ``vae#2``) when a run is listed twice or two folders
    share a name: every row of the report must name one evaluation."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        base = p.name or str(p)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return names


def _load_runs(run_dirs: list[str | Path], names: list[str | None] | None = None) -> list[_Run]:
    if not run_dirs:
        raise PgmError("runs: expected at least one run folder; found none")
    paths = [Path(r) for r in run_dirs]
    names = list(names) if names is not None else [None] * len(paths)
    if len(names) != len(paths):
        raise ValueError(f"names: expected one per run ({len(paths)}); found {len(names)}")
    given = [n for n in names if n]
    repeated = sorted({n for n in given if given.count(n) > 1})
    if repeated:
        raise ValueError(
            f"--label: expected a different name for each run; found {repeated[0]!r} twice"
        )
    # a labelled run is called by its label; the others by their folder, made unique
    default = _unique_names(
        [p if not n else Path(f"\0{i}") for i, (p, n) in enumerate(zip(paths, names, strict=True))]
    )
    chosen = [n or d for n, d in zip(names, default, strict=True)]
    clash = sorted({c for c in chosen if chosen.count(c) > 1})
    if clash:
        raise ValueError(
            "--label: expected names unlike the other runs' folder names; "
            f"found {clash[0]!r} for two runs"
        )
    runs = []
    for name, path in zip(chosen, paths, strict=True):
        model, cfg = load_run(path)
        read_metrics(path)  # a corrupted metrics.jsonl is refused now, not after the estimates
        runs.append(_Run(name, path, model, cfg))
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


def _progress(items, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False)


def _interval_bits(ci: tuple[float, float] | list[float], num_dims: int) -> list[float]:
    """bits/dim decreases as log p(x) increases: the interval's ends swap."""
    return [float(bits_per_dim(ci[1], num_dims)), float(bits_per_dim(ci[0], num_dims))]


def _describe(run: _Run) -> str:
    """What was built (``model.describe()``, from the built parts) and, for latent models, the
    objective it was trained with: ``..., trained on the iwae ELBO (K = 8)``."""
    text = run.model.describe() if hasattr(run.model, "describe") else str(run.cfg.get("model"))
    if run.has_latents and "elbo" in run.cfg:
        k = run.cfg.get("num_particles", 1)
        text += f"; trained on the {run.cfg['elbo']} ELBO" + (f" (K = {k})" if k and k > 1 else "")
    return text


def _relative(path: Path, out: Path) -> str:
    """``path`` relative to the output folder (``runs/vae``), so a report folder moves whole."""
    import os

    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(out).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return str(path)


def _model_row(run: _Run, data: ImageDataset, n_resamples: int, seed: int, out: Path) -> dict:
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
            "description": _describe(run),
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
            "run": _relative(run.path, out),
        }
    )
    return row


def _latent_diagnostics(run: _Run, x: torch.Tensor, seed: int, warnings: list[dict]) -> None:
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
                f"{_num(run.row['rate_nats'])} nats: the model uses few of its latent dimensions",
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


def _run_method(run: _Run, out: Path) -> dict:
    """How one run was trained: its folder, architecture, seed, the epoch budget and the epochs
    it ran (fewer with early stopping: ``early_stopping_patience``), and its training time."""
    metrics = read_metrics(run.path)
    return {
        "path": _relative(run.path, out),
        "architecture": run.cfg.get("model"),
        "seed": run.cfg.get("seed"),
        "epochs": run.cfg.get("epochs"),
        "epochs_run": metrics[-1]["epoch"] if metrics else None,
        "patience": run.cfg.get("early_stopping_patience", 0),
        "train_seconds": round(sum(float(m.get("seconds") or 0) for m in metrics), 1),
    }


def _num(value: float, fmt: str = ".2f") -> str:
    """A number for prose, with a true minus sign (−), as the tables print it."""
    from .report import format_value

    return format_value(value, fmt)


def _convergence_warnings(runs: list[_Run], comparisons: list[dict]) -> list[dict]:
    """One warning per run whose validation loss was still falling (or over-fitting) at its last
    epoch, and one when the ranking separates models that had not converged."""
    out = []
    convs = {r.name: r.row.get("convergence") or convergence(read_metrics(r.path)) for r in runs}
    for run in runs:
        conv = convs[run.name]
        if conv["still_falling"]:
            out.append(
                warning_record(
                    "not-converged",
                    run.name,
                    "valid_loss_slope_per_epoch",
                    conv["slope_per_epoch"],
                    0.0,
                    f"{run.name}: validation loss still falling at the last epoch "
                    f"({conv['last_epoch']}; "
                    f"slope {_num(conv['slope_per_epoch'], '.3f')} nats per epoch over the last "
                    f"{conv['window_epochs']} epochs): trained for a budget, not to convergence",
                )
            )
        if conv["overfitting"]:
            out.append(
                warning_record(
                    "over-fitting",
                    run.name,
                    "valid_loss",
                    conv["last_valid_loss"],
                    conv["best_valid_loss"],
                    f"{run.name}: over-fitting — validation loss rose from "
                    f"{_num(conv['best_valid_loss'])} (epoch {conv['best_epoch']}, the weights "
                    f"kept) to {_num(conv['last_valid_loss'])} at epoch {conv['last_epoch']}",
                )
            )
    falling = {name for name, conv in convs.items() if conv["still_falling"]}
    pairs = [
        c for c in comparisons if c["significant"] and (c["a"] in falling or c["b"] in falling)
    ]
    if pairs:
        shown = ", ".join(f"{c['a']} > {c['b']}" for c in pairs[:6]) + (
            " …" if len(pairs) > 6 else ""
        )
        out.append(
            warning_record(
                "ranking-not-converged",
                None,
                "significant_comparisons",
                len(pairs),
                0,
                f"{len(pairs)} significant difference(s) of the ranking involve a model that "
                f"had not converged ({shown}): they compare training budgets, not models; "
                "train to convergence (pgm suite --budget converge) before reading them as a "
                "verdict (the rule: see Method)",
            )
        )
    return out


def _representation(
    runs: list[_Run],
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
    for run in _progress(coded, "linear probe", progress):
        torch.manual_seed(seed)
        train_codes = encode_all(run.model, xtr)
        kind = "E_q[z|x]" if run.model.has_density else "code (encoder output)"
        rows.append(
            linear_probe(run.name, kind, train_codes, ytr, run.test_codes, yte, seed=seed).as_dict()
        )
    return rows


def _figures(
    runs: list[_Run],
    rows: list[dict],
    curves: dict,
    x: torch.Tensor,
    seed: int,
    progress: bool,
    notes: list[str],
) -> list[FigureFile]:
    """The report's figures; a capability a (plug-in) model lacks adds one line to ``notes``."""
    figs = [
        FigureFile(
            "forest.png",
            "Mean test log-likelihood with 95% BCa intervals (group letters in brackets); "
            "crosses: ELBO.",
            "ranking",
            *forest_plot(rows, with_svg=True),
        )
    ]
    # diagnostics follow the ranking's order, like the tables beside them
    latent = sorted((r for r in runs if r.has_latents), key=lambda r: r.row["rank"])
    if curves:
        figs.append(
            FigureFile(
                "k-curves.png",
                "Estimate against the number of importance samples K (±1 sd across disjoint "
                "blocks), on a subset of test images; K = 1 is the ELBO.",
                "importance",
                *k_curve_plot(curves, with_svg=True),
            )
        )
    if latent:
        figs.append(
            FigureFile(
                "khat.png",
                "PSIS k-hat per test image (dashed: 0.5 and 0.7).",
                "importance",
                *khat_plot({r.name: r.khat for r in latent}, with_svg=True),
            )
        )
        figs.append(
            FigureFile(
                "active-units.png",
                "Activity of each latent unit, sorted (dashed: the 0.01 threshold).",
                "latent",
                *activity_plot({r.name: r.activity for r in latent}, with_svg=True),
            )
        )
    pairs = min(4, x.shape[0] // 2)
    for run in _progress(runs, "figures", progress):
        m, n = run.model, run.name
        if run.can_sample:
            try:
                figs.append(
                    FigureFile(
                        f"samples-{n}.png",
                        f"{n}: 64 samples x ~ p(x).",
                        "samples",
                        samples_figure(m, 64, seed),
                    )
                )
            except SamplingUnavailable as err:
                notes.append(f"{n}: no sample grid ({err})")
        elif run.has_density:
            notes.append(f"{n}: no sample grid (the model gives no sample(n))")
        if run.has_codes:
            # what "decode" means differs: the autoencoder's decoder is a function of its code, a
            # VAE's is the mean of p(x|z), and an autoregressive p(x|z) (PixelVAE) has no
            # tractable mean, so each decode is one sample given z
            sampled = bool(getattr(m, "autoregressive_decoder", False))
            if not run.has_density:
                recon, decode = "decoder(encoder(x))", "decoder outputs"
            elif sampled:
                recon, decode = "one sample x ~ p(x|z = E_q[z|x])", "samples x ~ p(x|z)"
            else:
                recon, decode = "decode(E_q[z|x]), the mean of p(x|z)", "means E[x|z]"
            note = (
                " The decoder is autoregressive (a conditional PixelCNN): each image is a fresh "
                "sample given z, so neighbouring images differ in their local detail even where z "
                "barely moves; what z controls is what stays common along a row."
                if sampled
                else ""
            )
            figs.append(
                FigureFile(
                    f"reconstructions-{n}.png",
                    f"{n}: test images (top) and reconstructions {recon} (bottom).{note}",
                    "reconstructions",
                    reconstruction_figure(m, x[:16]),
                )
            )
            codes = torch.as_tensor(run.test_codes, dtype=torch.float32)
            spread = codes.var(0)
            dims = [int(d) for d in torch.argsort(spread, descending=True)[:8]]
            low, high = torch.quantile(codes, 0.02, dim=0), torch.quantile(codes, 0.98, dim=0)
            torch.manual_seed(seed)
            figs.append(
                FigureFile(
                    f"traversals-{n}.png",
                    f"{n}: one row per latent unit (the {len(dims)} most variable), swept over "
                    "its 2%–98% range on the test codes, the others fixed at the first test "
                    f"image's code; {decode}.{note}",
                    "traversals",
                    traversal_figure(m, x[:1], dims, low, high),
                )
            )
            if pairs:
                torch.manual_seed(seed)
                figs.append(
                    FigureFile(
                        f"interpolations-{n}.png",
                        f"{n}: linear interpolation between two test images' codes "
                        f"({decode}; ends: the images).{note}",
                        "interpolations",
                        interpolation_figure(m, x[:pairs], x[pairs : 2 * pairs]),
                    )
                )
        if run.is_autoregressive:
            figs.append(
                FigureFile(
                    f"completions-{n}.png",
                    f"{n}: top half observed (left), four completions, the original (right).",
                    "completions",
                    completion_figure(m, x[:8], num_samples=4, seed=seed),
                )
            )
    metrics = {r.name: read_metrics(r.path) for r in runs}
    if any(metrics.values()):
        figs.append(
            FigureFile(
                "training-curves.png",
                "Training and validation loss per epoch (each run's own objective, nats per "
                "image); dotted line and dot: the best validation epoch, whose weights are "
                "kept; panel titles flag runs still falling or over-fitting.",
                "training",
                *training_curves_plot(metrics, with_svg=True),
            )
        )
    return figs


def write_inference_data(path: Path, runs: list[_Run], data: ImageDataset, attrs: dict) -> None:
    """Per-image log-likelihoods and log-weights as an ArviZ ``InferenceData`` in netCDF.

    Groups: ``posterior`` (variable ``mean_log_likelihood``, dims ``(chain=4, draw=1000,
    model)``: paired bootstrap draws of each model's mean test log-likelihood in nats — every
    draw resamples the same images for all models, so differences between models are draws of
    the paired difference; ``az.summary``, ``az.plot_forest``, ``az.ess`` and ``az.hdi`` read
    it directly); ``log_likelihood`` (one variable per density model, dims ``(chain=1, draw=1,
    image)``: the per-image estimate in nats); ``log_weights`` (one per latent model, dims
    ``(particle, image)``: log p(x, z_k) − log q(z_k|x); ``az.psislw(lw.T)`` re-derives k-hat);
    ``diagnostics`` (dims ``(model, image)``: elbo, psis_khat, ess; NaN where undefined);
    ``observed_data`` (the images and labels)."""
    import arviz as az
    import xarray as xr

    dense = [r for r in runs if r.est is not None]
    ll = xr.Dataset(
        {
            r.name: (("chain", "draw", "image"), r.est.log_likelihood.double().numpy()[None, None])
            for r in dense
        },
        attrs={
            "units": "nats",
            "estimator": "importance-sampled log p(x), Burda et al. 2016 eq. 8",
        },
    )
    groups = {
        "posterior": _bootstrap_posterior(dense, int(attrs.get("seed", 0))),
        "log_likelihood": ll,
    }
    latent = [r for r in dense if r.has_latents]
    if latent:
        groups["log_weights"] = xr.Dataset(
            {r.name: (("particle", "image"), r.est.log_weights.double().numpy()) for r in latent},
            attrs={"definition": "log p(x, z_k) - log q(z_k | x), z_k ~ q(z | x)"},
        )
    n = data.images.shape[0]
    nan = np.full(n, np.nan)
    groups["diagnostics"] = xr.Dataset(
        {
            "elbo": (
                ("model", "image"),
                np.stack([r.est.elbo.double().numpy() if r.has_latents else nan for r in dense]),
            ),
            "psis_khat": (
                ("model", "image"),
                np.stack([r.khat if r.khat is not None else nan for r in dense]),
            ),
            "ess": (
                ("model", "image"),
                np.stack([r.ess if r.ess is not None else nan for r in dense]),
            ),
        },
        coords={"model": [r.name for r in dense]},
    )
    observed = {"images": (("image", "channel", "row", "col"), data.images.numpy())}
    if data.labels is not None:
        observed["labels"] = (("image",), data.labels.numpy())
    annealed = [r for r in dense if r.ais is not None]
    if annealed:
        groups["ais_log_likelihood"] = xr.Dataset(
            {
                r.name: (("chain", "draw", "image"), r.ais.double().numpy()[None, None])
                for r in annealed
            },
            attrs={
                "units": "nats",
                "estimator": "annealed importance sampling with HMC (Neal 2001)",
            },
        )
    groups["observed_data"] = xr.Dataset(observed)
    idata = az.InferenceData(**groups)
    for g in groups:
        getattr(idata, g).attrs.update(
            {k: v for k, v in attrs.items() if isinstance(v, str | int | float)}
        )
    atomic_write(path, lambda tmp: idata.to_netcdf(str(tmp), engine="h5netcdf"))


def _ais_section(
    dense, x, ais: dict, seed: int, n_resamples: int, progress: bool, warnings: list[str], say
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


def _git_commit() -> str | None:
    """The commit of the checkout pgm runs from (with ``+dirty`` for uncommitted changes), or
    None when it is not a git checkout (an installed wheel) or git is absent."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _bootstrap_posterior(dense: list[_Run], seed: int, chains: int = 4, draws: int = 1000):
    """Paired bootstrap draws of each model's mean log-likelihood, ``(chain, draw, model)``,
    the models in rank order (best first, as in the ranking table and the forest plot)."""
    import xarray as xr

    dense = sorted(dense, key=lambda r: r.row.get("rank") or 0)
    ll = np.stack([r.est.log_likelihood.double().numpy() for r in dense], -1)  # (N, M)
    n = ll.shape[0]
    rng = np.random.default_rng(seed)
    means = np.empty((chains * draws, ll.shape[1]))
    # each draw as the counts of a resample of the N images (a multinomial), a block at a time:
    # memory stays O(block · N) whatever the number of models
    block = max(1, min(chains * draws, 2**22 // max(n, 1)))
    for start in range(0, chains * draws, block):
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=min(block, chains * draws - start))
        means[start : start + counts.shape[0]] = counts @ ll / n
    means = means.reshape(chains, draws, -1)
    return xr.Dataset(
        {"mean_log_likelihood": (("chain", "draw", "model"), means)},
        coords={
            "chain": np.arange(chains),
            "draw": np.arange(draws),
            "model": [r.name for r in dense],
        },
        attrs={
            "units": "nats per image",
            "definition": "paired nonparametric bootstrap of the mean test log-likelihood "
            "(the same resampled images for every model)",
        },
    )


def _versions() -> dict[str, str]:
    import arviz
    import pyro
    import scipy
    import sklearn

    import pgm

    versions = {"pgm": pgm.__version__}
    commit = _git_commit()
    if commit:
        versions["pgm git commit"] = commit
    versions.update(
        {
            "torch": torch.__version__,
            "pyro-ppl": pyro.__version__,
            "arviz": arviz.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        }
    )
    return versions


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
    runs = _load_runs(run_dirs, names)
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
    timing["statistics"] = time.perf_counter() - t

    # 3. diagnostics of the latent models
    t = time.perf_counter()
    warnings: list[dict] = []
    curves: dict[str, dict] = {}
    n_curve = min(curve_images, len(x))
    for run in _progress([r for r in dense if r.has_latents], "diagnostics", progress):
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
    warnings += _convergence_warnings(runs, comparison_rows)
    rows = [r.row for r in dense]
    results = {
        "models": rows,
        "comparisons": comparison_rows,
        "ranking": ranking,
        "representation": representation,
        "models_without_density": [
            {
                "model": r.name,
                "architecture": r.cfg.get("model"),
                "description": _describe(r),
                "reason": "defines no density p(x), so it has no log-likelihood to rank",
                "convergence": convergence(read_metrics(r.path)),
                "run": _relative(r.path, out),
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
                r.name: {**_run_method(r, out), "plugins": _plugin_names(r.cfg)} for r in runs
            },
            "versions": _versions(),
        },
    }

    if ais_section is not None:
        results["ais"] = ais_section

    # 5. figures and files
    t = time.perf_counter()
    figures = _figures(runs, rows, curves, x, seed, progress, results["notes"])
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


def _plugin_names(cfg: dict) -> list[str]:
    """The plug-in modules a run needs (with their versions), from its config's records."""
    records = [r for r in cfg.get("plugins") or [] if isinstance(r, dict)]
    return [r["module"] + (f" {r['version']}" if r.get("version") else "") for r in records]


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
