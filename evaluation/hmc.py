"""One Hamiltonian Monte Carlo transition for many independent chains at once (Neal 2011).

Every chain is a row ``(c, n)`` of a position ``u: (C, N, D)`` in an unconstrained space; its
potential energy is U(u) = −log f(u) for a density f known up to a constant. A transition draws
a momentum ρ ~ N(0, I), runs ``num_leapfrog`` leapfrog steps of size ε (one per datapoint ``n``,
shared by that datapoint's chains), and accepts the end point with probability

.. math::

    \\min\\{1, \\exp(H(u, ρ) − H(u', ρ'))\\}, \\qquad H(u, ρ) = U(u) + \\tfrac12 ρ^\\top ρ,

chain by chain. The leapfrog map is volume-preserving and reversible, so this leaves f invariant
(Neal 2011, "MCMC using Hamiltonian dynamics", §3.2), for any fixed ε.

References: R. M. Neal, "MCMC using Hamiltonian dynamics", Handbook of MCMC, 2011.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["Evaluation", "HMCStep", "PilotStepSize", "hmc_transition", "leapfrog"]


@dataclass
class Evaluation:
    """The potential at a position: ``energy (C, N)`` = U(u), ``grad (C, N, D)`` = ∇U(u), and
    any per-chain ``extras`` (tensors with leading dims ``(C, N)``) the caller wants carried
    along with the accepted position."""

    energy: torch.Tensor
    grad: torch.Tensor
    extras: tuple[torch.Tensor, ...] = ()


@dataclass
class HMCStep:
    """A transition's result: the new ``position (C, N, D)`` and its :class:`Evaluation`, the
    Metropolis ``accept_prob (C, N)`` = min(1, exp(−ΔH)) (0 where the trajectory diverged)."""

    position: torch.Tensor
    evaluation: Evaluation
    accept_prob: torch.Tensor


def leapfrog(
    position: torch.Tensor,
    momentum: torch.Tensor,
    current: Evaluation,
    potential: Callable[[torch.Tensor], Evaluation],
    step_size: torch.Tensor,
    num_steps: int,
) -> tuple[torch.Tensor, torch.Tensor, Evaluation]:
    """``num_steps`` leapfrog steps (Neal 2011, eq. 5.18-5.20): half a momentum step, then full
    position and momentum steps, closed by half a momentum step. ``step_size`` broadcasts against
    ``position`` (e.g. ``(1, N, 1)``). One potential evaluation (with gradient) per step."""
    rho = momentum - 0.5 * step_size * current.grad
    u = position
    evaluation = current
    for i in range(num_steps):
        u = u + step_size * rho
        evaluation = potential(u)
        if i < num_steps - 1:
            rho = rho - step_size * evaluation.grad
    rho = rho - 0.5 * step_size * evaluation.grad
    return u, rho, evaluation


def _where(accept: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per-chain choice: ``accept (C, N)`` broadcast over the trailing dims of ``new``/``old``."""
    mask = accept.reshape(accept.shape + (1,) * (new.dim() - accept.dim()))
    return torch.where(mask, new, old)


def hmc_transition(
    position: torch.Tensor,
    current: Evaluation,
    potential: Callable[[torch.Tensor], Evaluation],
    step_size: torch.Tensor,
    num_leapfrog: int,
    momentum: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
) -> HMCStep:
    """One HMC transition of every chain of ``position: (C, N, D)``, whose potential at the
    current position is ``current`` (so it is not evaluated again).

    :param potential: ``u (C, N, D) -> Evaluation``; chains must not interact (the energy of
        chain ``(c, n)`` depends on ``u[c, n]`` only).
    :param step_size: ``(N,)`` leapfrog step size per datapoint, or a scalar.
    :param momentum: the initial momentum ``(C, N, D)`` (default: drawn from N(0, I)).
    :param uniform: the ``(C, N)`` uniforms of the accept test (default: drawn).
    """
    eps = torch.as_tensor(step_size, dtype=position.dtype, device=position.device)
    if eps.dim() == 1:
        eps = eps.reshape(1, -1, 1)
    rho = torch.randn_like(position) if momentum is None else momentum
    u, rho_new, proposed = leapfrog(position, rho, current, potential, eps, num_leapfrog)
    # energies in float64: ΔH is a small difference of large numbers (log p(x|z) of an image)
    h_old = current.energy.double() + 0.5 * rho.double().pow(2).sum(-1)
    h_new = proposed.energy.double() + 0.5 * rho_new.double().pow(2).sum(-1)
    log_ratio = (h_old - h_new).nan_to_num(nan=-torch.inf)
    accept_prob = log_ratio.clamp(max=0.0).exp()
    if uniform is None:
        uniform = torch.rand_like(accept_prob)
    accept = uniform.to(accept_prob.dtype) < accept_prob
    chosen = Evaluation(
        _where(accept, proposed.energy, current.energy),
        _where(accept, proposed.grad, current.grad),
        tuple(_where(accept, a, b) for a, b in zip(proposed.extras, current.extras, strict=True)),
    )
    return HMCStep(_where(accept, u, position), chosen, accept_prob.to(position.dtype))


class PilotStepSize:
    """The step size's adaptation, kept apart from the kernel (as Pyro's ``infer/mcmc`` keeps its
    adapter apart from HMC): one ε per datapoint, multiplied by ``factor`` after a transition
    whose first ``pilots`` chains (the pilots, never scored) accepted on average more than
    ``target``, divided by it otherwise. With no pilots ε stays fixed. The scored chains' ε then
    depends only on the pilots' past, so each of their transitions is a fixed f-invariant kernel.
    """

    def __init__(
        self,
        step_size: float | torch.Tensor,
        num_datapoints: int,
        like: torch.Tensor,
        pilots: int,
        target: float = 0.65,
        factor: float = 1.02,
    ):
        eps = torch.as_tensor(step_size, dtype=like.dtype, device=like.device)
        self.step_size = eps.expand(num_datapoints).clone()
        self.pilots, self.target, self.factor = pilots, target, factor

    def update(self, accept_prob: torch.Tensor) -> None:
        """Adapt after a transition whose ``accept_prob (P + C, N)`` starts with the pilots'."""
        if self.pilots:
            rate = accept_prob[: self.pilots].mean(0)
            up = torch.where(rate > self.target, self.factor, 1.0 / self.factor)
            self.step_size = self.step_size * up
