"""A progress bar over the steps of a comparison (one per model), shown only when asked for."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["progress_bar"]


def progress_bar(items: Iterable, desc: str, enabled: bool) -> Iterable:
    """``items`` with a transient tqdm bar labelled ``desc`` when ``enabled`` (quiet off a
    terminal: :func:`inference.progress.progress_bar`); else ``items``."""
    if not enabled:
        return items
    from inference.progress import progress_bar as bar

    return bar(items, desc=desc)
