"""The error a command-line argument that cannot be used raises."""

from pgm.errors import PgmError

__all__ = ["UsageError"]


class UsageError(PgmError):
    """A command-line argument that cannot be used."""
