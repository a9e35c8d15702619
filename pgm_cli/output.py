"""One way every command answers: a few lines for a person by default, one JSON line with
``--json`` for machines."""

from __future__ import annotations

import json
from collections.abc import Callable

__all__ = ["emit", "key_values"]


def key_values(title: str, row: dict) -> str:
    """A result as a title and one ``key  value`` line per entry (the default summary)."""
    width = max(map(len, row), default=0)
    lines = [title]
    for key, value in row.items():
        shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        lines.append(f"  {key:<{width}}  {shown}")
    return "\n".join(lines)


def emit(args, row: dict, summary: Callable[[dict], str]) -> None:
    """Print ``row`` as one JSON line when ``args.json``, else ``summary(row)`` of its strings
    with control characters escaped (a newline in a run folder's name split a summary's line;
    the JSON line keeps them as JSON escapes)."""
    if getattr(args, "json", False):
        print(json.dumps(row))
        return
    from evaluation.tables import printable

    print(summary({k: printable(v) if isinstance(v, str) else v for k, v in row.items()}))
