"""The annealing path of AIS at a position of its chains: the densities at both ends, read from
the model and guide traces replayed there, in the unconstrained space of every latent site.

A flat position ``u: (C, N, D)`` holds every latent site's unconstrained value
(``biject_to(site.support)``); :class:`PathDensity` gives log p(x, z), log q_0(z) and the
log-Jacobian of u -> z with their gradients, and :class:`Proposals` the tempered potential of one
HMC transition's proposals, a proposal the pair cannot evaluate being a rejection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyro
import torch
from pyro import poutine
from torch.distributions import biject_to

from pgm.contract import PARTICLE_PLATE, sample_sites, trace_pair
from pgm.errors import ContractError

from .hmc import Evaluation
from .log_likelihood import site_log_probs

__all__ = ["PathDensity", "Proposals", "initial_state", "prepare", "tempered"]


@dataclass
class _Site:
    """Where one latent site lives in the flat unconstrained position ``(C, N, D)``: its slice,
    its shape with the data dim moved next to the chains', and the bijection to its support."""

    name: str
    transform: torch.distributions.Transform
    data_dim: int
    shape: tuple[int, ...]  # (mid plates..., unconstrained event...) per chain
    offset: int
    size: int


class PathDensity:
    """The two ends of the path at a flat position ``u: (C, N, D)``: ``log p(x, z)``, ``log
    q_0(z)`` and the log-Jacobian of the map u -> z, each ``(C, N)``, with their gradients.

    :param start: ``"guide"`` (q_0 = q(z|x)) or ``"prior"`` (q_0 = p(z), the model's latent sites).
    """

    def __init__(self, model, guide, x: torch.Tensor, nesting: int, start: str, sites: list[_Site]):
        self.model, self.guide, self.x = model, guide, x
        self.nesting, self.start, self.sites = nesting, start, sites
        self.num_evaluations = 0

    def unpack(self, u: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Site values z (in the trace's layout) and the summed log-Jacobian ``(C, N)``."""
        values, log_jac = {}, torch.zeros(u.shape[:2], dtype=u.dtype, device=u.device)
        for s in self.sites:
            free = (
                u[..., s.offset : s.offset + s.size]
                .reshape(*u.shape[:2], *s.shape)
                .movedim(1, s.data_dim)
            )
            z = s.transform(free)
            values[s.name] = z
            jac = s.transform.log_abs_det_jacobian(free, z)
            if jac.dim() > s.data_dim + 1:
                jac = jac.reshape(*jac.shape[: s.data_dim + 1], -1).sum(-1)
            log_jac = log_jac + _per_chain(jac.expand(free.shape[: s.data_dim + 1]), s.data_dim)
        return values, log_jac

    def log_densities(
        self, values: dict[str, torch.Tensor], num_chains: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log p(x, z), log q_0(z))``, each ``(C, N)``, from the traces replayed at
        ``values``."""
        replayed = _values_trace(values)
        model = poutine.replay(self.model, trace=replayed)
        guide = poutine.replay(self.guide, trace=replayed) if self.start == "guide" else _no_guide
        sites = site_log_probs(model, guide, self.x, num_chains, self.nesting)
        prior = sites.total("prior")
        log_joint = sites.total("observed") + prior
        return log_joint, sites.total("guide") if self.start == "guide" else prior

    def __call__(self, u: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(log_joint, log_start, log_jac, grad_joint, grad_start)``: the gradients are of
        ``log_joint + log_jac`` and ``log_start + log_jac`` with respect to ``u``."""
        self.num_evaluations += 1
        with torch.enable_grad():
            u = u.detach().requires_grad_(True)
            values, log_jac = self.unpack(u)
            log_joint, log_start = self.log_densities(values, u.shape[0])
            grad_joint, grad_start = _grads(log_joint + log_jac, log_start + log_jac, u)
        return log_joint.detach(), log_start.detach(), log_jac.detach(), grad_joint, grad_start


class Proposals:
    """The tempered potential of one HMC transition's proposals. A proposal the pair cannot
    evaluate (a ``ValueError``/``RuntimeError`` from a distribution's argument check, a failed
    decomposition, ...) makes the whole trajectory a rejection: its energy is +inf from there on,
    so the Metropolis test refuses it for every chain of the block. Rejecting is always a valid
    move (the chains stay where they are, which leaves f_t invariant); non-finite energies of
    single chains are rejected chain by chain by :func:`evaluation.hmc.hmc_transition`."""

    def __init__(self, density: PathDensity, beta: float):
        self.density, self.beta, self.failed = density, beta, False

    def __call__(self, u: torch.Tensor) -> Evaluation:
        if not self.failed:
            try:
                return tempered(self.density(u), self.beta)
            except (ValueError, RuntimeError):
                self.failed = True
        worst = torch.full(u.shape[:2], -math.inf, dtype=u.dtype, device=u.device)
        zero = torch.zeros_like(u)
        return tempered((worst, worst, worst, zero, zero), self.beta)


def _grads(a: torch.Tensor, b: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ga = torch.autograd.grad(a.sum(), u, retain_graph=True, allow_unused=True)[0]
    gb = torch.autograd.grad(b.sum(), u, allow_unused=True)[0]
    zero = torch.zeros_like(u)
    return (zero if ga is None else ga), (zero if gb is None else gb)


def _per_chain(t: torch.Tensor, data_dim: int) -> torch.Tensor:
    """Sum a ``(C, mid..., N)`` tensor over its mid plates to ``(C, N)``."""
    mid = tuple(range(1, data_dim))
    return t.sum(mid) if mid else t


def _no_guide(*args, **kwargs) -> None:
    pass


def _values_trace(values: dict[str, torch.Tensor]) -> poutine.Trace:
    """A trace holding only latent values, for ``poutine.replay``."""
    trace = poutine.Trace()
    for name, value in values.items():
        trace.add_node(name, type="sample", name=name, is_observed=False, value=value, infer={})
    return trace


def tempered(parts: tuple[torch.Tensor, ...], beta: float) -> Evaluation:
    """U = −log f_β at a point whose path densities are ``parts``, with ∇U; ``parts`` ride along."""
    log_joint, log_start, log_jac, grad_joint, grad_start = parts
    log_f = beta * log_joint + (1.0 - beta) * log_start + log_jac
    grad = beta * grad_joint + (1.0 - beta) * grad_start
    return Evaluation(-log_f, -grad, parts)


def initial_state(model, guide, x: torch.Tensor, num_chains: int, nesting: int, start: str):
    """Draw ``num_chains`` chains per datapoint from q_0 under the particle plate (the same draws,
    from the same random numbers, as the importance-sampled estimator's); returns the latent values
    ``{name: (C, mid..., N, event...)}`` and the distributions' supports."""
    with pyro.plate(PARTICLE_PLATE, num_chains, dim=-(nesting + 1)):
        if start == "guide":
            model_trace, guide_trace = trace_pair(model, guide, x)
            source = guide_trace
        else:
            model_trace = poutine.trace(model).get_trace(x)
            source = model_trace
    values, supports = {}, {}
    for name, site in sample_sites(source):
        if site["is_observed"]:
            continue
        fn = site["fn"]
        if fn.support.is_discrete:
            raise ContractError(
                f"site {name!r}: AIS with HMC moves continuous latent sites only; found a discrete "
                f"support ({fn.support}) (use evaluation.log_likelihood, which sums over it by "
                "importance sampling)"
            )
        value = site["value"].detach()
        batch = value.shape[: value.dim() - fn.event_dim]
        batch = (1,) * (nesting + 1 - len(batch)) + tuple(batch)
        values[name] = value.reshape(batch + value.shape[value.dim() - fn.event_dim :])
        supports[name] = fn.support
    return values, supports


def prepare(values: dict[str, torch.Tensor], supports: dict, nesting: int):
    """The flat unconstrained position ``(C, N, D)`` of latent ``values`` and the site layout."""
    sites, pieces, offset = [], [], 0
    for name, value in values.items():
        support = supports[name]
        transform = biject_to(support)
        free = transform.inv(value)
        # the unconstrained event may have another shape than the value's (e.g. a simplex)
        moved = free.movedim(nesting, 1)
        shape = tuple(moved.shape[2:])
        size = math.prod(shape)
        sites.append(_Site(name, transform, nesting, shape, offset, size))
        pieces.append(moved.reshape(*moved.shape[:2], size))
        offset += size
    return torch.cat(pieces, -1), sites
