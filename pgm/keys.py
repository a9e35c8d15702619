"""A config key a registered part declares where it is registered: its name, type, default,
bounds and meaning, e.g. ``@PRIORS.register("vamp", keys=[Key("num_components", int, 10,
low=1, help="pseudo-inputs M")])``. The model layer (:mod:`pgm.model_config`) reads the keys
of the parts a config names from the registry, fills their defaults and checks their values;
``pgm list --keys`` shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import PgmError

__all__ = ["Key"]


@dataclass(frozen=True)
class Key:
    """One config key: ``check(value)`` refuses, in one line naming the key, a value of another
    type or outside ``[low, high]``."""

    name: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""

    def check(self, value: Any) -> Any:
        wrong = isinstance(value, bool) and self.type is not bool
        if self.type is float and isinstance(value, int) and not wrong:
            value = float(value)
        if wrong or not isinstance(value, self.type):
            raise PgmError(f"{self.name}: expected {self._expected()}; found {value!r}")
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise PgmError(f"{self.name}: expected {self._expected()}; found {value!r}")
        return value

    def _expected(self) -> str:
        kind = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
        text = kind.get(self.type, self.type.__name__)
        if self.low is not None and self.high is not None:
            return f"{text} in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"{text} >= {self.low}"
        if self.high is not None:
            return f"{text} <= {self.high}"
        return text

    def bounds(self) -> str:
        """``[1, inf)``-style text for listings ("" when unbounded)."""
        if self.low is None and self.high is None:
            return ""
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"[{low}, {high}{']' if self.high is not None else ')'}"
