"""The written interfaces of a VAE's parts: priors, guides and likelihoods as lazy distributions.

Each part is an ``nn.Module`` whose ``forward(context)`` returns a distribution (zuko's
``LazyDistribution``), so any prior works with any guide and any likelihood. Shapes are for a
batch ``x: (N, *event_shape)`` and codes ``z: (..., L)``:

- :class:`Prior`: ``forward() -> p(z)``, batch ``()``, event ``(L,)``;
- :class:`Guide`: ``forward(x) -> q(z | x)``, batch ``(N,)``, event ``(L,)``;
- :class:`Likelihood`: ``forward(z) -> p(x | z)``, batch ``z.shape[:-1]``, event ``event_shape``.

Optional capabilities, declared rather than probed for:

- :class:`GaussianGuide`: the guide has a diagonal-Gaussian stage ``gaussian(x)`` (q itself, or
  the base of a flow); the VampPrior's components are this Gaussian at its pseudo-inputs;
- :class:`PriorNeedsGuide`: the prior is defined through the guide; the model that owns both
  calls ``attach(guide)`` once, after building them (the guide's weights stay the model's);
- :class:`LikelihoodWithMean`: ``mean(z) -> E[x | z]`` in closed form (else decoding samples);
- :class:`AutoregressiveImage`: a distribution with a fast cached sampler and ``complete``;
- :class:`FullyObservedAutoregressive`: a model whose ``distribution()`` is such a distribution;
- :class:`Described`: ``describe() -> str`` on any part, for reports.

Registered factories take the resolved config only: ``factory(cfg) -> part``. :func:`build_part`
calls one and refuses, in one line naming the part, a factory of the wrong signature or a part
that does not keep its protocol.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import nn
from torch.distributions import Distribution

from .errors import PgmError, PgmTypeError

__all__ = [
    "AutoregressiveImage",
    "Described",
    "FullyObservedAutoregressive",
    "GaussianGuide",
    "Guide",
    "Likelihood",
    "LikelihoodWithMean",
    "MEAN_DRAWS",
    "Prior",
    "PriorNeedsGuide",
    "attach_guide",
    "build_part",
    "call_factory",
    "check_distribution",
    "describe",
    "mean_of",
    "variance_of",
]


@runtime_checkable
class Prior(Protocol):
    """p(z): ``forward() -> Distribution`` with batch shape ``()`` and event shape ``(L,)``."""

    def forward(self) -> Distribution: ...


@runtime_checkable
class Guide(Protocol):
    """q(z | x): ``forward(x: (N, *event_shape)) -> Distribution``, batch shape ``(N,)``, event
    shape ``(L,)``."""

    def forward(self, x: torch.Tensor) -> Distribution: ...


@runtime_checkable
class GaussianGuide(Guide, Protocol):
    """A guide with a diagonal-Gaussian stage: ``gaussian(x: (N, *event_shape))`` is
    N(mu(x), diag sigma(x)^2), batch ``(N,)``, event ``(L,)`` (its ``mean`` and ``stddev`` are
    ``(N, L)``). It is q(z | x) itself for a diagonal guide, the base distribution of a flow."""

    def gaussian(self, x: torch.Tensor) -> Distribution: ...


@runtime_checkable
class PriorNeedsGuide(Prior, Protocol):
    """A prior defined through the guide (the VampPrior). The model owning both calls
    ``attach(guide)`` once; the prior keeps no copy of the guide's weights, so they are saved
    once, under the model's guide."""

    def attach(self, guide: Guide) -> None: ...


@runtime_checkable
class Likelihood(Protocol):
    """p(x | z): ``forward(z: (..., L)) -> Distribution``, batch ``z.shape[:-1]``, event the
    data's ``event_shape``."""

    def forward(self, z: torch.Tensor) -> Distribution: ...


@runtime_checkable
class LikelihoodWithMean(Likelihood, Protocol):
    """A likelihood with E[x | z] in closed form: ``mean(z: (..., L)) -> (..., *event_shape)`` in
    the data's units (levels). Without it, decoding z draws a sample (PixelVAE)."""

    def mean(self, z: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class AutoregressiveImage(Protocol):
    """An autoregressive image distribution (PixelCNN, PixelRNN): two samplers that consume the
    same uniforms (``cached``: the fast one), and completion of partly observed images."""

    def sample(self, sample_shape: tuple[int, ...] = (), cached: bool = True) -> torch.Tensor: ...

    def complete(
        self, observed: torch.Tensor, observed_mask: torch.Tensor, cached: bool = True
    ) -> torch.Tensor: ...


@runtime_checkable
class FullyObservedAutoregressive(Protocol):
    """A model with no latents whose ``distribution()`` is p(x), an :class:`AutoregressiveImage`
    with batch shape ``()`` and event shape ``(C, H, W)``."""

    def distribution(self) -> AutoregressiveImage: ...


@runtime_checkable
class Described(Protocol):
    """Optional on any part: ``describe() -> str``, what it is in a few words, for reports
    (without it a part is named by its class)."""

    def describe(self) -> str: ...


def describe(part: object) -> str:
    """``part.describe()`` of a :class:`Described` part, else its class name."""
    return part.describe() if isinstance(part, Described) else type(part).__name__


#: Monte Carlo draws for a mean without closed form (a flow guide's E[z | x]). With q near
#: N(0, 1) the mean of S draws varies by 1/S across images; at S = 1000 that is 0.001, a tenth
#: of the 0.01 activity threshold of active units (Burda et al. 2016), so a collapsed unit does
#: not look active (at S < 100 it would).
MEAN_DRAWS = 1000


#: Draws per Monte Carlo pass: bounds the memory of a flow's activations (S x N rows) and runs
#: about 2.5 times faster than one pass of 1000 draws on CPU (512 images, IAF, 32 latents).
_DRAWS_PER_PASS = 100


def _average(d: Distribution, num_samples: int, f) -> torch.Tensor:
    """(1/S) sum_s f(z_s) over ``num_samples`` draws z_s ~ d, drawn in passes."""
    total = 0.0
    for start in range(0, num_samples, _DRAWS_PER_PASS):
        draws = d.sample((min(_DRAWS_PER_PASS, num_samples - start),))
        total = total + f(draws).sum(0)
    return total / num_samples


def mean_of(d: Distribution, num_samples: int = MEAN_DRAWS) -> torch.Tensor:
    """E[z] of ``d``: its closed form where it has one, else the mean of ``num_samples`` draws.
    This is the E[z | x] of every caller (codes, traversals, active units, the linear probe)."""
    try:
        return d.mean
    except NotImplementedError:
        return _average(d, num_samples, lambda z: z)


def variance_of(
    d: Distribution, mean: torch.Tensor | None = None, num_samples: int = MEAN_DRAWS
) -> torch.Tensor:
    """Var[z] of ``d``: closed form where it has one, else over ``num_samples`` draws around
    ``mean`` (default :func:`mean_of`)."""
    try:
        return d.variance
    except NotImplementedError:
        mean = mean_of(d, num_samples) if mean is None else mean
        return _average(d, num_samples, lambda z: (z - mean).pow(2))


def _describe_callable(factory: Callable) -> str:
    name = getattr(factory, "__qualname__", type(factory).__name__)
    try:
        return f"{name}{inspect.signature(factory)}"
    except (TypeError, ValueError):
        return name


def call_factory(kind: str, name: str, factory: Callable, cfg: dict):
    """``factory(cfg)``; a plug-in's factory that fails (an exception, ``sys.exit``) is refused
    in one line naming the part, its module and the line (a built-in's failure is pgm's bug and
    keeps its traceback; a :class:`~pgm.errors.PgmError` already is one line)."""
    from .nn.weight_init import keep_initialisation

    module = getattr(factory, "__module__", None) or ""
    if module == "pgm" or module.startswith("pgm."):
        return factory(cfg)
    try:
        # a plug-in's part keeps its author's initialisation under weight_init = "he"
        return keep_initialisation(factory(cfg))
    except (PgmError, KeyboardInterrupt):
        raise
    except (Exception, SystemExit) as err:
        line, tb = None, err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_globals.get("__name__") == module:
                line = tb.tb_lineno
            tb = tb.tb_next
        first = (str(err).splitlines() or [""])[0]
        where = f"{module}, line {line}" if line else module
        raise PgmError(
            f"{kind} {name!r}: expected its factory (plug-in {where}) to build it; found "
            f"{type(err).__name__}: {first}"
        ) from None


def build_part(kind: str, name: str, factory: Callable, cfg: dict, protocol: type) -> nn.Module:
    """``factory(cfg)``, checked: the factory takes the config alone, and what it returns is an
    ``nn.Module`` (its weights are trained and saved with the model) with its own ``forward``,
    keeping ``protocol``. Otherwise a one-line :class:`~pgm.errors.PgmTypeError` naming the part.

    :param kind: ``"prior"``, ``"guide"`` or ``"likelihood"`` (for the message).
    :param name: the registered name (for the message).
    """
    try:
        inspect.signature(factory).bind(cfg)
    except TypeError:
        raise PgmTypeError(
            f"{kind} {name!r}: expected a factory taking the config alone, f(cfg) -> "
            f"{protocol.__name__}; found {_describe_callable(factory)}"
            + (
                " (priors no longer receive the guide: a prior that needs it defines attach(guide))"
                if kind == "prior"
                else ""
            )
        ) from None
    except ValueError:  # no signature to read (a builtin): let the call speak
        pass
    part = call_factory(kind, name, factory, cfg)
    if not isinstance(part, nn.Module):
        raise PgmTypeError(
            f"{kind} {name!r}: expected an nn.Module keeping the {protocol.__name__} protocol "
            f"(pgm.parts); found {type(part).__name__}"
        )
    if type(part).forward is nn.Module.forward or not isinstance(part, protocol):
        raise PgmTypeError(
            f"{kind} {name!r}: expected an nn.Module with forward() keeping the "
            f"{protocol.__name__} protocol (pgm.parts); found {type(part).__name__} without it"
        )
    return part


def attach_guide(prior: nn.Module, guide: nn.Module) -> None:
    """The wiring step of a model that owns a prior and a guide: a :class:`PriorNeedsGuide`
    gets ``attach(guide)``; any other prior is left as it is."""
    if isinstance(prior, PriorNeedsGuide):
        prior.attach(guide)


def check_distribution(
    kind: str,
    name: str,
    part: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    batch_shape: tuple[int, ...],
    event_shape: tuple[int, ...],
) -> None:
    """Refuse, in one line naming the part, one whose ``forward(*inputs)`` is not a distribution
    with ``batch_shape`` and ``event_shape``. The probe runs without gradients and in eval mode
    (no batch-norm statistics move, no dropout draws), then restores the part's mode. Nothing is
    probed while building on the ``meta`` device (sizing a model, :mod:`pgm.memory`)."""
    if torch.empty(()).is_meta or any(t.is_meta for t in (*part.parameters(), *part.buffers())):
        return
    training = part.training
    part.eval()
    try:
        with torch.no_grad():
            d = part(*inputs)
    finally:
        part.train(training)
    call = "forward(" + ", ".join(f"{tuple(t.shape)}" for t in inputs) + ")"
    if not isinstance(d, Distribution):
        raise PgmTypeError(
            f"{kind} {name!r}: expected {call} to return a Distribution; found {type(d).__name__}"
        )
    if tuple(d.batch_shape) != tuple(batch_shape) or tuple(d.event_shape) != tuple(event_shape):
        raise PgmTypeError(
            f"{kind} {name!r}: expected {call} to return a distribution with batch shape "
            f"{tuple(batch_shape)} and event shape {tuple(event_shape)}; found batch "
            f"{tuple(d.batch_shape)}, event {tuple(d.event_shape)}"
        )
