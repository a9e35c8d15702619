"""How far a row of ``pgm reproduce --out`` has got before its score is written: the epochs its
run folder has finished, its best validation loss so far, whether a process is training it now
(and which), and whether its training has ended. Read from the folder's files as data
(``metrics.jsonl``, the kernel's lock table); nothing in the folder is run or changed.

::

    from evaluation.row_progress import row_progress

    row_progress(Path("runs/repro/hvae-vamp"))
    # {'epochs_run': 12, 'best_valid_loss': 170.2, 'training_pid': 18106, 'trained': False,
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
    folder's lock now, or ``None``; ``trained``: whether the final weights are written (training
    ended; the score is what is missing); ``metrics_unreadable``: ``metrics.jsonl`` is damaged
    (the two numbers are then 0 and ``None``)."""
    from inference.config import ConfigError
    from inference.run import read_metrics
    from inference.run_folder import WEIGHTS_FILE
    from inference.run_lock import lock_holder

    run = Path(run)
    try:
        metrics, unreadable = read_metrics(run), False
    except ConfigError:
        metrics, unreadable = [], True
    losses = [m.get("valid_loss") for m in metrics]
    finite = [
        float(v)
        for v in losses
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    return {
        "epochs_run": len(metrics),
        "best_valid_loss": min(finite, default=None),
        "training_pid": lock_holder(run),
        "trained": (run / WEIGHTS_FILE).is_file(),
        "metrics_unreadable": unreadable,
    }
