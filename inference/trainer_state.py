"""A trainer's state in a checkpoint: what :meth:`Trainer.save_checkpoint` writes and
:meth:`Trainer.load_checkpoint` restores (weights, Adam's state, the best weights so far, the
counters, the metrics, the RNG states, and the run's identity), and ``metrics.jsonl``.

The format (``pgm-checkpoint-1``: tensors in safetensors, the rest as JSON in its metadata) is
:mod:`inference.checkpoint`'s; nothing is ever unpickled. Each function takes the
:class:`~inference.trainer.Trainer` whose state it is (not imported here: the trainer imports
this module, and a type-only import back would close a circle).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pgm

from .atomic_write import atomic_write_text
from .checkpoint import (
    CheckpointError,
    check_state,
    flatten_optimizer_state,
    load_tensors,
    rng_state,
    save_tensors,
    set_rng_state,
    unflatten_optimizer_state,
)
from .checkpoint_meta import check_checkpoint_meta, check_optimizer_state, sorted_checkpoints
from .fingerprint import check_same_run, fingerprint
from .nan_diagnosis import first_line
from .weights_probe import check_valid_distributions

__all__ = [
    "BEST_PREFIX",
    "MODEL_PREFIX",
    "check_best_weights",
    "identity",
    "load_checkpoint",
    "save_checkpoint",
    "weights_under",
    "with_older_checkpoint",
    "write_metrics",
]

#: the prefixes a checkpoint stores the current weights and the best validation epoch's under
MODEL_PREFIX, BEST_PREFIX = "model.", "best."


def weights_under(tensors: dict, prefix: str) -> dict:
    """The state dict stored under ``prefix`` in a checkpoint's tensors, the prefix removed."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def check_best_weights(best: dict, meta: dict, path: Path) -> None:
    """Refuse a checkpoint whose best weights (``best``, read from under :data:`BEST_PREFIX`)
    and its metadata's ``best_epoch`` disagree: best weights without a best epoch, or a best
    epoch without its weights (a resume would save the current weights as the best)."""
    recorded = meta["best_epoch"]  # present: checkpoint_meta.check_checkpoint_meta requires it
    if best and not recorded:
        raise CheckpointError(
            f"{path}: expected metadata 'best_epoch' >= 1 beside its best weights; found "
            f"{recorded!r}"
        )
    if recorded and not best:
        raise CheckpointError(
            f"{path}: expected the best validation epoch's weights ({BEST_PREFIX}*), as its "
            f"metadata records best epoch {recorded}; found none"
        )


def identity(trainer) -> dict:
    """What the run trains: the resolved config, the data's identity, their fingerprint."""
    return {
        "config": trainer.config,
        "data": trainer.data_identity,
        "fingerprint": fingerprint(trainer.config, trainer.data_identity),
    }


def save_checkpoint(trainer) -> None:
    """Write ``checkpoints/epoch-XXXXX.safetensors`` for the trainer's epoch, then rotate."""
    tensors = {MODEL_PREFIX + k: v for k, v in trainer.model.state_dict().items()}
    opt_tensors, opt_meta = flatten_optimizer_state(trainer.optimizer.state_dict())
    tensors.update(opt_tensors)
    if trainer.best_state is not None:
        tensors.update({BEST_PREFIX + k: v for k, v in trainer.best_state.items()})
    rng_tensors, rng_meta = rng_state()
    tensors.update(rng_tensors)
    best = trainer.best_valid_loss
    meta = {
        "epoch": trainer.epoch,
        "step": trainer.step,
        "best_valid_loss": best if math.isfinite(best) else None,
        "best_epoch": trainer.best_epoch,
        "stopped_early": trainer.stopped_early,
        "metrics": trainer.metrics,
        "optimizer": opt_meta,
        "rng": rng_meta,
        **identity(trainer),
    }
    folder = trainer.folder
    save_tensors(folder.checkpoint(trainer.epoch), tensors, meta)
    # Rotate only after the new file is in place: the last `keep_checkpoints` stay, and so
    # does the best epoch's checkpoint, however old, until a better epoch replaces it.
    kept = folder.checkpoint(trainer.best_epoch) if trainer.best_epoch else None
    for path in sorted_checkpoints(folder.checkpoints)[: -trainer.training.keep_checkpoints]:
        if path != kept:
            path.unlink(missing_ok=True)


def load_checkpoint(trainer, path: Path) -> None:
    """Restore everything :func:`save_checkpoint` wrote; a file that is not a pgm checkpoint of
    this model is refused by name (never unpickled)."""
    try:
        tensors, meta = load_tensors(path, device="cpu")
    except CheckpointError as err:
        raise with_older_checkpoint(err, path) from None
    check_checkpoint_meta(meta, path)
    if trainer.data_identity is not None:  # resuming a run: config.json may have been edited
        check_same_run(meta, trainer.config, trainer.data_identity, "--resume", path.name)
    try:
        state, best = weights_under(tensors, MODEL_PREFIX), weights_under(tensors, BEST_PREFIX)
        check_state(state, trainer.model, path, MODEL_PREFIX)
        check_best_weights(best, meta, path)
        if best:  # the weights a finished run keeps: as checked as the current ones
            check_state(best, trainer.model, path, BEST_PREFIX)
    except CheckpointError as err:
        raise with_older_checkpoint(err, path) from None

    # probed as loaded: the best weights become model.safetensors when training ends, and the
    # current ones train on (a failed step would not name the file)
    def fresh():
        return pgm.build(trainer.config)

    for what, weights in (("best weights", best), ("weights", state)):
        if weights:
            trainer.model.load_state_dict(weights)
            try:
                check_valid_distributions(trainer.model, path, fresh, what)
            except CheckpointError as err:
                raise with_older_checkpoint(err, path) from None
    try:
        optimizer_state = unflatten_optimizer_state(tensors, meta["optimizer"])
        check_optimizer_state(optimizer_state, list(trainer.model.parameters()), path)
        trainer.optimizer.load_state_dict(optimizer_state)
        device = trainer.device
        trainer.best_state = {k: v.to(device) for k, v in best.items()} or None
        trainer.epoch, trainer.step = int(meta["epoch"]), int(meta["step"])
        bv = meta["best_valid_loss"]
        trainer.best_valid_loss = math.inf if bv is None else float(bv)
        trainer.best_epoch = int(meta.get("best_epoch", 0))
        trainer.stopped_early = bool(meta.get("stopped_early", False))
        trainer.metrics = list(meta["metrics"])
        set_rng_state(tensors, meta["rng"])
    except CheckpointError:
        raise
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as err:
        found = first_line(err) if not isinstance(err, KeyError) else f"no entry {err}"
        raise CheckpointError(
            f"{path}: expected a pgm training checkpoint of this model; found one that does "
            f"not fit ({found})"
        ) from None


def with_older_checkpoint(err: CheckpointError, path: Path) -> CheckpointError:
    """``err``, saying which older checkpoint a resume could start from instead, if any."""
    older = [p.name for p in sorted_checkpoints(path.parent) if p != path]
    return CheckpointError(f"{err}; move it away to resume from {older[-1]}" if older else str(err))


def write_metrics(trainer, unless_same: bool = False) -> None:
    """``metrics.jsonl``: one JSON line per epoch trained so far, written atomically. With
    ``unless_same`` (a resume making the file its checkpoint's) a file already holding exactly
    that text is left as it is (a resume refused after that point had rewritten it)."""
    path = trainer.folder.metrics
    text = "".join(json.dumps(_in_order(m)) + "\n" for m in trainer.metrics)
    if unless_same and path.is_file():
        from .config import ConfigError
        from .run_folder import read_run_text

        try:  # compared as text: `"epoch": true` equals 1 as a number, and was kept
            if read_run_text(path, "metrics.jsonl") == text:
                return
        except (OSError, UnicodeDecodeError, ValueError, ConfigError):
            pass  # not a regular file, too large or unreadable: written afresh
    atomic_write_text(path, text)


#: the order of a metrics line's keys as an epoch makes them (a checkpoint keeps its records
#: with sorted keys, so without it a resumed run's earlier lines came back sorted)
_METRIC_ORDER = (
    "epoch",
    "step",
    "train_loss",
    "kl_weight",
    "lr",
    "seconds",
    "images_per_second",
    "valid_loss",
    "best_valid_loss",
)


def _in_order(record: dict) -> dict:
    """``record`` with pgm's keys in :data:`_METRIC_ORDER`, then any others in its own order."""
    return {
        **{k: record[k] for k in _METRIC_ORDER if k in record},
        **{k: v for k, v in record.items() if k not in _METRIC_ORDER},
    }
