"""The base class of every built model: a Pyro ``model``/``guide`` pair over a batch of images."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .errors import PgmError, PgmTypeError

__all__ = ["GenerativeModel", "check_images"]


def check_images(
    x: torch.Tensor,
    event_shape: tuple[int, ...],
    num_levels: int | None,
    argument: str = "x",
) -> None:
    """Raise ``ValueError`` naming ``argument`` unless ``x`` is a non-empty batch
    ``(N, *event_shape)`` of finite values, integers in ``{0, ..., num_levels - 1}`` when
    ``num_levels`` is given."""
    if not torch.is_tensor(x):
        raise PgmTypeError(f"{argument}: expected a torch.Tensor; found {type(x).__name__}")
    expected = "(N, " + ", ".join(map(str, event_shape)) + ")"
    if x.dim() != len(event_shape) + 1 or tuple(x.shape[1:]) != tuple(event_shape):
        raise PgmError(f"{argument}: expected shape {expected}; found {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise PgmError(f"{argument}: expected a non-empty batch {expected}; found 0 images")
    if x.is_complex():
        raise PgmTypeError(
            f"{argument}: expected real or integer pixel values; found dtype {x.dtype}"
        )
    if x.is_floating_point():
        finite = torch.isfinite(x)
        if not finite.all():
            where = _first_index(~finite)
            raise PgmError(
                f"{argument}: expected finite values; found {x[where].item()} at index {where} "
                f"({int((~finite).sum())} non-finite values in all)"
            )
    if num_levels:
        bad = (x < 0) | (x > num_levels - 1)
        if x.is_floating_point():
            bad |= x != torch.round(x)
        if bad.any():
            where = _first_index(bad)
            raise PgmError(
                f"{argument}: expected integer values in {{0, ..., {num_levels - 1}}} "
                f"({num_levels} levels, the support of the likelihood); found {x[where].item()!r} "
                f"at index {where}"
            )


def _first_index(mask: torch.Tensor) -> tuple[int, ...]:
    """The index of the first True entry of ``mask``, as a tuple (for error messages)."""
    return tuple(int(i) for i in mask.nonzero()[0])


class GenerativeModel(nn.Module):
    """A model in the suite: Pyro callables ``model(x)`` and ``guide(x)`` over ``x: (N, C, H, W)``
    (or ``(N, D)``) with values in ``{0, ..., K-1}``, plus ``sample(n)``.

    The contract (DESIGN.md): every per-datapoint site sits in ``pyro.plate("data", N)`` at
    dim -1, the data is observed at the site ``"x"``, the guide samples every latent site of
    the model and nothing else, and both tolerate extra leading particle dimensions.

    Subclasses set ``has_latents`` (a non-empty guide) and ``has_density`` (False only for the
    deterministic autoencoder, which the log-likelihood estimator refuses).
    """

    has_density: bool = True
    has_latents: bool = False

    def __init__(self, event_shape: tuple[int, ...], num_levels: int, config: dict | None = None):
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        self.num_levels = int(num_levels)
        self.config: dict[str, Any] = dict(config or {})

    @property
    def num_dims(self) -> int:
        """D = C·H·W, the number of discrete variables per image (for bits/dim)."""
        n = 1
        for s in self.event_shape:
            n *= s
        return n

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    def check_data(self, x: torch.Tensor, argument: str = "x") -> None:
        check_images(x, self.event_shape, self.num_levels or None, argument)

    def model(self, x: torch.Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def guide(self, x: torch.Tensor) -> None:
        """The empty guide of a fully observed model; latent models override it."""

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """What was built, in a few words, for reports: each part says what it is (subclasses
        compose their parts' ``describe()``), so a description never repeats a config name."""
        return type(self).__name__

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}, num_levels={self.num_levels}"
