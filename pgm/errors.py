"""The project's own error types: input the suite cannot use, answered in one line.

The command line maps :class:`PgmError` (and only it, with the operating system's file errors)
to one line and exit status 2; any other exception is a bug and surfaces as one, with its
traceback. Each error type also subclasses the built-in error it refines, so ``except
ValueError`` (or ``TypeError``, ``KeyError``) still catches it. A :class:`PgmWarning` is pgm's
own warning, which the command line prints as one line like its other messages.
"""

from __future__ import annotations

__all__ = ["ContractError", "PgmError", "PgmTypeError", "PgmWarning", "UnknownNameError"]


class PgmError(ValueError):
    """Bad input: a value, file, config or data that cannot be used; the message names the
    argument, what was expected and what was found."""


class PgmTypeError(PgmError, TypeError):
    """An argument of the wrong type (a model where a tensor was expected, ...)."""


class UnknownNameError(PgmError, KeyError):
    """A name that no registry holds; the message lists the registered ones."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class ContractError(PgmError):
    """A model/guide pair that breaks the contract of DESIGN.md (latent sites, data plate,
    scaling, observed site); the message names the site and the rule it breaks."""


class PgmWarning(UserWarning):
    """A warning of pgm's own (a plug-in that fails to load, a figure's missing glyphs): the
    command line prints it as one line, ``pgm COMMAND: warning: ...``."""
