"""How far a row of ``pgm reproduce --out`` has got before its score is written: the epochs its
run folder has finished, its best validation loss so far, whether a process is training or
scoring it now (and which), and whether its training has ended. Read from the folder's files as
data (``metrics.jsonl``, the newest checkpoint's metadata, the kernel's lock table); nothing in
the folder is run or changed.

::

    from evaluation.row_progress import row_progress

    row_progress(Path("runs/repro/hvae-vamp"))
    # {'epochs_run': 12, 'best_valid_loss': 170.2, 'training_pid': 18106, 'ended': False,
    #  'metrics_unreadable': False}
"""

from __future__ import annotations

import math
from pathlib import Path

__all__ = ["row_progress"]


def row_progress(run: str | Path) -> dict:
    """What the run folder ``run`` (a row begun, or scored and training again) has reached.

    ``epochs_run``: epochs finished (``metrics.jsonl``'s lines); ``best_valid_loss``: the least
    finite validation loss among them, or ``None``; ``training_pid``: the process holding the
    folder's lock now (training the row, or scoring it), or ``None``; ``ended``: whether its
    training has ended by its own rule (its epochs, or early stopping), read from the newest
    checkpoint's metadata (``None`` when there is none, ``"unreadable"`` when it is damaged),
    so that only the score is missing; ``metrics_unreadable``: ``metrics.jsonl`` is damaged
    (the two numbers are then 0 and ``None``)."""
    from inference.config import ConfigError
    from inference.run import read_metrics
    from inference.run_lock import lock_holder

    run = Path(run)
    try:
        metrics, unreadable = read_metrics(run), False
    except ConfigError:
        metrics, unreadable = [], True
    return {
        "epochs_run": len(metrics),
        "best_valid_loss": min((v for v in map(_finite, metrics) if v is not None), default=None),
        "training_pid": lock_holder(run),
        "ended": _ended(run),
        "metrics_unreadable": unreadable,
    }


def _finite(record: dict) -> float | None:
    """An epoch's validation loss as a finite float, else ``None`` (a string, a bool, NaN, or
    an integer of 400 digits, which ``float`` overflows)."""
    v = record.get("valid_loss")
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        v = float(v)
    except OverflowError:
        return None
    return v if math.isfinite(v) else None


def _ended(run: Path) -> bool | str | None:
    """Whether the newest checkpoint says training ended (early stopping, or its ``epochs``
    reached): its metadata only is read (JSON in the file's header, no tensors, no pickle).
    ``None`` when there is no checkpoint (or it was rotated away while read); ``"unreadable"``
    when the newest one is damaged or not pgm's (``--resume`` then names what to move)."""
    from inference.checkpoint import CheckpointError, read_metadata
    from inference.checkpoint_meta import sorted_checkpoints
    from inference.run_folder import CHECKPOINT_DIR

    newest = sorted_checkpoints(run / CHECKPOINT_DIR)[-1:]
    if not newest:
        return None
    try:
        meta = read_metadata(newest[0])
    except (CheckpointError, OSError):
        return "unreadable" if newest[0].exists() else None
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    epoch, epochs = meta.get("epoch"), config.get("epochs")
    if meta.get("stopped_early") is True:
        return True
    if isinstance(epoch, int) and isinstance(epochs, int):
        return epoch >= epochs
    return None
