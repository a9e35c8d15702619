"""The one driver of every estimator on a trained run: ``pgm evaluate RUN --method NAME``.

It loads the run and its split, prepares the pair once (:func:`evaluation.pair.prepare_pair`),
seeds, runs the registered estimator (:mod:`evaluation.estimators`), summarises per-image
log p(x) (mean, standard error, BCa 95% interval, bits/dim) and writes the evaluation file.

One number per evaluation: the file is named by what makes an evaluation
(:func:`evaluation_name`: split, method, the estimator's settings key, the number of images,
and the seed when it is not 0), e.g. ``evaluation-test-is-K500-n360.json``. An evaluation whose
file exists, for the same weights, is read back instead of recomputed; another evaluation
writes another file and never overwrites this one.

A run still training is evaluated from its newest checkpoint (``checkpoint="best"`` or
``"last"``, :func:`inference.load_run`): its file's name ends in which weights of which epoch
(``evaluation-test-is-K500-n360-ckpt-best-e00117.json``), so it is never taken for the final
weights' evaluation, and is reused while the weights' digest is the same.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from inference.run_folder import read_run_text
from pgm.errors import PgmError

__all__ = ["evaluate", "evaluation_name", "summary_text"]


def evaluation_name(
    split: str, method: str, key: str, num_images: int, seed: int = 0, weights: str | None = None
) -> str:
    """The evaluation file's name: ``evaluation-SPLIT-METHOD-KEY-nN[-sSEED][-WEIGHTS].json``;
    ``weights`` names checkpoint weights (``ckpt-best-e00117``), None the final ones."""
    tail = (f"-s{seed}" if seed else "") + (f"-{weights}" if weights else "")
    return f"evaluation-{split}-{method}-{key}-n{num_images}{tail}.json"


def _weights_stamp(run_dir: Path, source) -> dict:
    """What identifies the weights evaluated: a run retrained or resumed gets new ones. Final
    weights by their file's size and time; a checkpoint's (its files are rotated away) by which
    weights, their epoch and their digest (:class:`inference.RunWeights`)."""
    if source.checkpoint is not None:
        return {
            "checkpoint": source.checkpoint,
            "epoch": source.weights_epoch,
            "sha256": source.sha256,
        }
    stat = (run_dir / "model.safetensors").stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _described(source) -> dict | None:
    """The row's ``checkpoint``: which weights of which checkpoint file and epoch were read."""
    if source.checkpoint is None:
        return None
    return {
        "which": source.checkpoint,
        "file": source.path.name,
        "epoch": source.epoch,
        "weights_epoch": source.weights_epoch,
        "weights": source.describe(),
    }


def _reuse(path: Path, stamp: dict) -> dict | None:
    try:
        row = json.loads(read_run_text(path, "run"))
    except (OSError, ValueError, RecursionError):  # ConfigError too: not reused
        return None
    return row if isinstance(row, dict) and row.get("weights") == stamp else None


def evaluate(
    run_dir: str | Path,
    method: str = "is",
    settings: dict | None = None,
    split: str = "test",
    data_dir: str | None = None,
    num_images: int | None = None,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = False,
    checkpoint: str | None = None,
) -> tuple[dict, Path, bool]:
    """``(row, file, reused)``: the evaluation of a run by the registered estimator ``method``
    with ``settings`` (its defaults where None), read back from its file when it exists for the
    same weights, else computed and written. ``checkpoint`` (``"best"`` or ``"last"``) evaluates
    the newest checkpoint's weights of a run still training (:func:`inference.load_run`); the
    row's ``checkpoint`` then says which file, weights and epoch."""
    import torch

    from inference import load_run_weights
    from inference.atomic_write import atomic_write_text
    from pgm.data import config_dataset

    from .estimators import get_estimator
    from .log_likelihood import bits_per_dim
    from .pair import prepare_pair
    from .statistics import summarise_mean

    estimator = get_estimator(method)
    settings = estimator.settings(_Args(settings or {}))
    run_dir = Path(run_dir)
    model, cfg, source = load_run_weights(run_dir, device=device, checkpoint=checkpoint)
    if not model.has_density:
        raise PgmError(
            f"run: expected a model with a density p(x); found {run_dir} holding model "
            f"{cfg['model']!r}, which defines none, so there is no log-likelihood to evaluate "
            "(use `pgm compare` for its representation quality)"
        )
    data = config_dataset(cfg, split, data_dir).subset(num_images)
    n = len(data.float_images())
    key = estimator.key(settings)
    path = run_dir / evaluation_name(split, method, key, n, seed, source.label)
    stamp = _weights_stamp(run_dir, source)
    described = _described(source)
    row = _reuse(path, stamp)
    if row is not None:
        if described is not None and row.get("checkpoint") != described:
            # the same best weights, read from a newer checkpoint: say which one it was
            row["checkpoint"] = described
            atomic_write_text(path, json.dumps(row, indent=2) + "\n")
        return row, path, True
    x = data.float_images()
    # seeded before the pair's probe, as `pgm compare` seeds the estimator (whose probe comes
    # first): one run, K and seed give the same draws, so the same number, in both commands
    torch.manual_seed(seed)
    pair = prepare_pair(model, None, x, check_guide=estimator.uses_guide)
    result = estimator.estimate(pair, settings, progress=progress)
    ll = result.log_likelihood.double().cpu()
    # the bootstrap `pgm compare` draws by default (9999 resamples, this seed): one interval
    s = summarise_mean(ll.numpy(), seed=seed)
    row = {
        "model": Path(os.path.abspath(run_dir)).name,  # `pgm evaluate .` names the folder
        "architecture": cfg["model"],
        "method": method,
        "split": split,
        "log_likelihood_nats": float(ll.mean()),
        "bits_per_dim": float(bits_per_dim(ll.mean(), data.num_dims)),
        "num_dims": data.num_dims,
        "num_images": int(ll.numel()),
        "standard_error_nats": s.standard_error,
        "ci95": list(s.ci95),
        "exact": result.exact,
        "settings_key": estimator.key(settings),
        **result.fields,
        "seed": seed,
        "file": path.name,
        "weights": stamp,
    }
    if described is not None:
        row["checkpoint"] = described
    atomic_write_text(path, json.dumps(row, indent=2) + "\n")
    return row, path, False


class _Args:
    """Settings given as a dict, read like parsed arguments (``steps``, ``num_particles``)."""

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def __getattr__(self, name):
        return None


def summary_text(row: dict, reused: bool = False) -> str:
    """``pgm evaluate``'s answer for a person (``--json`` gives the row)."""
    from .estimators import get_estimator
    from .report import format_value as f

    estimator = get_estimator(row["method"])
    lines = [
        f"{row['model']} on the {row['split']} split: {row['num_images']} images, "
        f"{estimator.name} ({row['settings_key']})",
        f"  log p(x)   {f(row['log_likelihood_nats'], '.2f')} nats per image "
        f"(SE {f(row['standard_error_nats'], '.3f')}, 95% CI {f(row['ci95'], '.2f')})",
        f"  bits/dim   {f(row['bits_per_dim'], '.4f')}",
        *estimator.summary(row),
    ]
    if isinstance(row.get("checkpoint"), dict):  # a run still training: which weights
        lines.insert(1, f"  weights    {row['checkpoint'].get('weights')}")
    if row.get("exact"):
        lines.append("  exact      no latent variables: log p(x) is exact (K = 1)")
    lines.append(f"  file       {row['file']}" + (" (reused: same evaluation)" if reused else ""))
    return "\n".join(lines)
