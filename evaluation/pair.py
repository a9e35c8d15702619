"""The one preparation every estimator shares: a model/guide pair and its data, resolved,
checked and probed once, then run in eval mode.

:func:`prepare_pair` accepts what every estimator accepts (a built model, or Pyro callables
``model`` and ``guide``, with observations ``x``) and refuses bad input in one line
(:class:`pgm.errors.PgmError`): not a callable, not a tensor, an empty batch, data the model
cannot score, a pair that breaks the contract (:func:`pgm.contract.probe`, which includes the
two-particle probe of the particle-dimension rule). An estimator given a :class:`PreparedPair`
does none of this again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyro
import torch

from pgm.contract import latent_sites, probe
from pgm.errors import PgmError, PgmTypeError
from pgm.generative_model import GenerativeModel

__all__ = ["PreparedPair", "check_count", "empty_guide", "prepare_pair", "resolve_pair"]


def empty_guide(*args, **kwargs) -> None:
    """The guide of a fully observed model: it samples nothing."""


def resolve_pair(model, guide=None) -> tuple[Callable, Callable, GenerativeModel | None]:
    """Accept a built model (``pgm.build``'s result), or Pyro callables ``model`` and ``guide``
    (``None``: the empty guide of a fully observed model). Returns the pair and the built
    model they belong to, if any."""
    owner = model if isinstance(model, GenerativeModel) else getattr(model, "__self__", None)
    if not isinstance(owner, GenerativeModel):
        owner = None
    if owner is not None and not owner.has_density:
        raise PgmTypeError(
            f"model: {type(owner).__name__} defines no density p(x) (a deterministic "
            "autoencoder has no prior and no likelihood), so its log-likelihood cannot be "
            "estimated; evaluate a VAE or an autoregressive model instead"
        )
    if isinstance(model, GenerativeModel):
        model, guide = model.model, model.guide if guide is None else guide
    if not callable(model):
        raise PgmTypeError(
            f"model: expected a Pyro callable or a built model; found {type(model).__name__}"
        )
    if guide is None:
        guide = empty_guide
    if not callable(guide):
        raise PgmTypeError(f"guide: expected a Pyro callable or None; found {type(guide).__name__}")
    return model, guide, owner


def check_count(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` if it is an integer in [minimum, maximum]; otherwise a one-line PgmError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PgmError(f"{name}: expected an integer >= {minimum}; found {value!r}")
    if maximum is not None and value > maximum:
        raise PgmError(f"{name}: expected an integer <= {maximum:,}; found {value:,}")
    return value


@dataclass
class PreparedPair:
    """A checked pair and its data: ``model`` and ``guide`` (Pyro callables), the built model
    ``owner`` they belong to (or None), ``x`` on the model's device, the pair's plate
    ``nesting``, whether the guide samples latent sites (``has_latents``) and whether the
    model itself has any (``model_latents``; AIS from the prior needs no guide)."""

    model: Callable
    guide: Callable
    owner: GenerativeModel | None
    x: torch.Tensor
    nesting: int
    has_latents: bool
    model_latents: bool

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Gradients off, a built model in eval mode (restored afterwards) with Pyro's per-pass
        checks off for it: its data and parameters were checked once, by the probe."""
        owner = self.owner
        was_training = getattr(owner, "training", None)
        if owner is not None:
            owner.eval()
        recheck = contextlib.nullcontext() if owner is None else pyro.validation_enabled(False)
        try:
            with torch.no_grad(), recheck:
                yield
        finally:
            if owner is not None and was_training:
                owner.train()


def prepare_pair(
    model,
    guide=None,
    x: torch.Tensor | None = None,
    *,
    probe_size: int = 256,
    check_guide: bool = True,
) -> PreparedPair:
    """Resolve, check and probe a pair on ``x`` (see the module docstring). ``guide`` may be
    ``x`` itself when a built model is given without a guide (``prepare_pair(vae, x)``);
    ``check_guide=False`` when the estimator does not use the guide (AIS from the prior)."""
    if isinstance(model, PreparedPair):
        return model
    if x is None and torch.is_tensor(guide):
        x, guide = guide, None
    model_fn, guide_fn, owner = resolve_pair(model, guide)
    if not torch.is_tensor(x):
        raise PgmTypeError(f"x: expected a torch.Tensor of observations; found {type(x).__name__}")
    if x.dim() < 1 or x.shape[0] == 0:
        raise PgmError(f"x: expected a non-empty batch (N, ...); found shape {tuple(x.shape)}")
    if owner is not None and hasattr(owner, "check_data"):
        owner.check_data(x)
        x = x.to(owner.device).float()
    sample = x[:probe_size]
    was_training = getattr(owner, "training", None)
    if owner is not None:
        owner.eval()
    try:
        nesting, latent = probe(
            model_fn,
            guide_fn,
            sample,
            check=True,
            guide_given=guide_fn is not empty_guide,
            check_guide=check_guide,
        )
        model_latents = latent
        if not latent and not check_guide:
            with torch.no_grad():
                trace = pyro.poutine.trace(model_fn).get_trace(sample)
            model_latents = bool(latent_sites(trace))
    finally:
        if owner is not None and was_training:
            owner.train()
    return PreparedPair(model_fn, guide_fn, owner, x, nesting, latent, model_latents)
