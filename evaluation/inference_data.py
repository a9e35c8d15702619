"""The comparison as an ArviZ ``InferenceData`` (``idata.nc``): the per-image estimates, the
kept log-weights and diagnostics of every model, the images, and paired bootstrap draws of each
model's mean log-likelihood as a ``posterior`` group, so that ArviZ's summaries, forest plots,
ESS and HDI read the comparison directly (the groups: :func:`write_inference_data`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.atomic_write import atomic_write
from pgm.data import ImageDataset

from .compared_run import ComparedRun

__all__ = ["bootstrap_posterior", "seed_posterior", "write_inference_data"]


def write_inference_data(
    path: Path,
    runs: list[ComparedRun],
    data: ImageDataset,
    attrs: dict,
    model_of_run: dict[str, str] | None = None,
) -> None:
    """Per-image log-likelihoods and log-weights as an ArviZ ``InferenceData`` in netCDF.

    Groups: ``posterior`` (variable ``mean_log_likelihood``, dims ``(chain=4, draw=1000,
    model)``: paired bootstrap draws of each model's mean test log-likelihood in nats — every
    draw resamples the same images for all models, so differences between models are draws of
    the paired difference; ``az.summary``, ``az.plot_forest``, ``az.ess`` and ``az.hdi`` read
    it directly); ``log_likelihood`` (one variable per density model, dims ``(chain=1, draw=1,
    image)``: the per-image estimate in nats); ``log_weights`` (one per latent model, dims
    ``(particle, image)``: log p(x, z_k) − log q(z_k|x); ``az.psislw(lw.T)`` re-derives k-hat);
    ``diagnostics`` (dims ``(model, image)``: elbo, psis_khat, ess; NaN where undefined; its
    ``model`` dimension carries each run's training ``seed`` and the model it is a seed of,
    ``replicate_of``, from ``model_of_run``: runs of one config under several seeds are one
    model, e.g. ``idata.diagnostics.groupby("replicate_of")``); ``seed_posterior`` (with a
    model of two seeds or more: :func:`seed_posterior`, each such model's mean over its seeds,
    dims ``(chain, draw, model)``); ``observed_data`` (the images and labels)."""
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
        "posterior": bootstrap_posterior(dense, int(attrs.get("seed", 0))),
        "log_likelihood": ll,
    }
    # the models of two seeds or more, over their seeds (best mean first)
    of = model_of_run or {}
    runs_of: dict[str, list[ComparedRun]] = {}
    for r in dense:
        runs_of.setdefault(of.get(r.name, r.name), []).append(r)
    per_seed = {
        m: np.stack([r.est.log_likelihood.double().numpy() for r in rs])
        for m, rs in runs_of.items()
        if len(rs) >= 2
    }
    if per_seed:
        groups["seed_posterior"] = seed_posterior(per_seed, int(attrs.get("seed", 0)))
    latent = [r for r in dense if r.has_latents]
    if latent:
        groups["log_weights"] = xr.Dataset(
            {r.name: (("particle", "image"), r.est.log_weights.double().numpy()) for r in latent},
            attrs={"definition": "log p(x, z_k) - log q(z_k | x), z_k ~ q(z | x)"},
        )
    groups["diagnostics"] = _diagnostics(dense, data.images.shape[0], model_of_run or {})
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


def _diagnostics(dense: list[ComparedRun], n: int, model_of_run: dict[str, str]):
    """The ``diagnostics`` group: elbo, psis_khat and ess per (model, image), NaN where
    undefined; the model dimension carries each run's ``seed`` and ``replicate_of``."""
    import xarray as xr

    nan = np.full(n, np.nan)
    return xr.Dataset(
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
        coords={
            "model": [r.name for r in dense],
            "replicate_of": ("model", [model_of_run.get(r.name, r.name) for r in dense]),
            "seed": ("model", [_seed(r) for r in dense]),
        },
    )


def _seed(run: ComparedRun) -> int:
    """The run's training seed (-1 where its config records none)."""
    seed = run.cfg.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else -1


def _resampled_images(rng, n: int, total: int):
    """``total`` resamples of the N images, each as its counts (a multinomial), yielded a block
    at a time as ``(start, counts (B, N))``, so memory stays O(block · N); lazily, so that a
    caller's own draws between blocks keep their place in ``rng``'s stream."""
    block = max(1, min(total, 2**22 // max(n, 1)))
    for start in range(0, total, block):
        yield start, rng.multinomial(n, np.full(n, 1.0 / n), size=min(block, total - start))


def bootstrap_posterior(dense: list[ComparedRun], seed: int, chains: int = 4, draws: int = 1000):
    """Paired bootstrap draws of each model's mean log-likelihood, ``(chain, draw, model)``,
    the models in rank order (best first, as in the ranking table and the forest plot)."""
    import xarray as xr

    dense = sorted(dense, key=lambda r: r.row.get("rank") or 0)
    ll = np.stack([r.est.log_likelihood.double().numpy() for r in dense], -1)  # (N, M)
    n = ll.shape[0]
    rng = np.random.default_rng(seed)
    means = np.empty((chains * draws, ll.shape[1]))
    for start, counts in _resampled_images(rng, n, chains * draws):
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


def seed_posterior(per_seed: dict[str, np.ndarray], seed: int, chains: int = 4, draws: int = 1000):
    """Two-level bootstrap draws of each model's mean log-likelihood over its seeds,
    ``(chain, draw, model)`` (best mean first): every draw resamples each model's seeds (its
    rows of ``per_seed[model]``, ``(S, N)``) with replacement, and the test images with
    replacement, the same images for every model. A difference of two models' draws is then a
    draw of their difference with the training run as the unit, paired over the images (as the
    seeds table's test); a model's draws give its interval over seeds. With few seeds a
    bootstrap understates their spread (three seeds give a resampled variance 2/3 of theirs,
    and no Student tail): for a decision the seeds table's Welch test and interval stand."""
    import xarray as xr

    names = sorted(per_seed, key=lambda m: -float(per_seed[m].mean()))
    n = next(iter(per_seed.values())).shape[1]
    total = chains * draws
    rng = np.random.default_rng(seed)
    means = np.empty((total, len(names)))
    for start, images in _resampled_images(rng, n, total):  # (B, N), shared by the models
        size = images.shape[0]
        for j, m in enumerate(names):
            v = per_seed[m]  # (S, N)
            s = v.shape[0]
            seeds = rng.multinomial(s, np.full(s, 1.0 / s), size=size)  # (B, S), per model
            # each drawn seed's mean over the drawn images, weighted by how often it was drawn
            means[start : start + size, j] = ((images @ v.T) * seeds).sum(1) / (n * s)
    return xr.Dataset(
        {"mean_log_likelihood": (("chain", "draw", "model"), means.reshape(chains, draws, -1))},
        coords={"chain": np.arange(chains), "draw": np.arange(draws), "model": names},
        attrs={
            "units": "nats per image",
            "definition": "two-level bootstrap of each model's mean test log-likelihood over "
            "its seeds: seeds resampled per model, then the same resampled images for every "
            "model; with few seeds it understates their spread: the seeds table's Welch test "
            "is the one to report",
        },
    )
