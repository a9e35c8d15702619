"""The table of results, in markdown, for the README's performance section."""
from __future__ import annotations
__all__ = ["write_results"]
def write_results(path, results, host, args, total):
    pass
