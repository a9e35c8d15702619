"""Progress bars that suit where they are written: live tqdm bars on a terminal; in a log file
or a pipe (stderr not a terminal) at most one redraw every :data:`QUIET_INTERVAL` seconds, so a
long job's log holds a few lines instead of thousands of carriage-return updates.

::

    from inference.progress import progress_bar, is_terminal, log_line

    for batch in progress_bar(batches, desc="evaluate", unit="batch", enabled=show):
        ...
    bar = progress_bar(total=steps, desc="train vae", unit="step")   # manual updates
    bar.update(1); bar.close()
    log_line("epoch 3/10: train_loss 12.3")   # a line above any live bar (stderr)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

__all__ = ["QUIET_INTERVAL", "is_terminal", "log_line", "progress_bar"]

#: seconds between redraws of a bar whose stream is not a terminal
QUIET_INTERVAL = 30.0


def is_terminal(stream: IO | None = None) -> bool:
    """Whether ``stream`` (default: stderr, where bars go) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return False


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    unit: str = "it",
    initial: int = 0,
    enabled: bool = True,
    leave: bool = False,
    file: IO | None = None,
    **kwargs: Any,
):
    """A ``tqdm`` bar (over ``iterable``, or updated by hand up to ``total``) on ``file``
    (default stderr), transient (``leave=False``) unless asked; ``enabled=False`` gives a bar
    that draws nothing (it still iterates and counts). When the stream is not a terminal the
    bar redraws at most every :data:`QUIET_INTERVAL` seconds. Other keyword arguments go to
    ``tqdm``."""
    from tqdm.auto import tqdm

    stream = sys.stderr if file is None else file
    if not is_terminal(stream):
        kwargs.setdefault("mininterval", QUIET_INTERVAL)
        kwargs.setdefault("maxinterval", max(QUIET_INTERVAL, kwargs["mininterval"]))
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        initial=initial,
        disable=not enabled,
        leave=leave,
        file=stream,
        **kwargs,
    )


def log_line(text: str, file: IO | None = None) -> None:
    """Print one line on ``file`` (default stderr) without breaking a live bar."""
    from tqdm.auto import tqdm

    tqdm.write(text, file=sys.stderr if file is None else file)
