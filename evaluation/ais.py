"""Annealed importance sampling (AIS) of log p(x) with HMC transitions, per datapoint, for any
model/guide pair keeping the contract.

A geometric path joins a normalised start density q_0(z) (the guide's q(z|x), or the prior
p(z)) to the unnormalised posterior p(x, z):

.. math::

    f_t(z) = q_0(z)^{1 - β_t} \\, p(x, z)^{β_t}, \\qquad 0 = β_0 < β_1 < \\dots < β_T = 1,

and each chain z_0 ~ q_0, z_t ~ K_t(z_{t-1}, ·) (HMC leaving f_t invariant) carries the weight

.. math::

    \\log w = \\sum_{t=1}^{T} (β_t − β_{t-1}) [\\log p(x, z_{t-1}) − \\log q_0(z_{t-1})],

whose mean over chains is an unbiased estimate of p(x) (Neal 2001, "Annealed importance
sampling"), so log-mean-exp over C chains is a stochastic lower bound on log p(x). With T = 1
there is no transition and it is importance sampling from q_0 with K = C. As in Wu et al. 2017
("On the quantitative analysis of decoder-based generative models"), β follows a sigmoid
schedule, and the HMC step size is adapted toward an acceptance rate of 0.65.

The step size is adapted on ``adapt_chains`` extra *pilot* chains per datapoint, run in the same
vectorised pass but independent of the C chains that are scored: the ε used at step t depends
only on the pilot chains' past, never on the scored chain it moves, so every scored chain sees a
fixed sequence of f_t-invariant kernels and its weight stays exactly unbiased. (Adapting on a
chain's own history would make K_t depend on the state it moves, which breaks the reverse-kernel
argument behind AIS; the pilots cost ``adapt_chains / C`` more work.)

HMC runs in the unconstrained space of every latent site (``biject_to(site.support)``), with the
log-Jacobian of that map added to every f_t; it cancels in the weights, which compare f_t and
f_{t-1} at the same point. Densities are read from the model and guide traces replayed at the
current position, so any pair the importance-sampled estimator accepts works unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import pyro
import torch

from pgm.errors import PgmError

from .annealing_path import PathDensity, Proposals, initial_state, prepare, tempered
from .defaults import (
    DEFAULT_CHAINS,
    DEFAULT_LEAPFROG,
    DEFAULT_STEPS,
    MAX_AIS_CHAINS,
    MAX_AIS_STEPS,
    MAX_LEAPFROG,
)
from .hmc import PilotStepSize, hmc_transition
from .log_likelihood import estimate
from .pair import check_count, prepare_pair

__all__ = [
    "AISResult",
    "DEFAULT_CHAINS",
    "DEFAULT_LEAPFROG",
    "DEFAULT_STEPS",
    "MAX_AIS_CHAINS",
    "MAX_AIS_STEPS",
    "MAX_LEAPFROG",
    "PathDensity",
    "ais",
    "ais_log_likelihood",
    "anneal",
    "beta_schedule",
    "check_settings",
    "initial_state",
    "prepare",
]

STARTS = ("guide", "prior")
SCHEDULES = ("sigmoid", "linear")


@dataclass
class AISResult:
    """Per-datapoint results: ``log_likelihood (N,)`` in nats (float64), the chains' ``log_weights
    (C, N)`` (float64), ``standard_error (N,)`` of the log-mean-exp over chains (delta method;
    crude for few chains), the scored chains' mean HMC ``accept_rate (N,)`` and the final
    ``step_size (N,)``. ``num_steps`` and ``num_chains`` as run (1 and 1 without latents, where
    ``exact``: the estimate is log p(x) itself, K = 1 importance sampling)."""

    log_likelihood: torch.Tensor
    log_weights: torch.Tensor
    standard_error: torch.Tensor
    accept_rate: torch.Tensor
    step_size: torch.Tensor
    num_steps: int
    num_chains: int
    exact: bool = False


def beta_schedule(
    num_steps: int, schedule: str = "sigmoid", sharpness: float = 4.0
) -> torch.Tensor:
    """``(T + 1,)`` float64 inverse temperatures from 0 to 1: ``"linear"``, or ``"sigmoid"``
    (Grosse et al. 2016; Wu et al. 2017): σ(δ(2t/T − 1)) rescaled to [0, 1], δ = ``sharpness``,
    which spends more steps near both ends where the path bends most."""
    t = torch.linspace(0.0, 1.0, num_steps + 1, dtype=torch.float64)
    if schedule == "linear":
        return t
    if schedule != "sigmoid":
        raise PgmError(f"schedule: expected one of {SCHEDULES}; found {schedule!r}")
    s = torch.sigmoid(sharpness * (2 * t - 1))
    beta = (s - s[0]) / (s[-1] - s[0])
    beta[0], beta[-1] = 0.0, 1.0
    return beta


def anneal(
    density: PathDensity,
    position: torch.Tensor,
    betas: torch.Tensor,
    num_leapfrog: int = 10,
    step_size: float | torch.Tensor = 0.05,
    adapt_chains: int = 1,
    target_accept: float = 0.65,
    adapt_factor: float = 1.02,
    on_step=None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run AIS along ``betas`` from every chain of ``position: (P + C, N, D)``.

    The first ``adapt_chains`` (P) chains are pilots: after each transition the step size of
    datapoint n is multiplied by ``adapt_factor`` if its pilots' mean acceptance probability
    exceeds ``target_accept`` and divided by it otherwise. Returns the scored chains' log-weights
    ``(C, N)`` (float64), their mean acceptance ``(N,)`` and the final step size ``(N,)``.
    ``betas`` may decrease (reverse AIS: the weight then estimates log Z_0/Z_1 = −log p(x)).
    """
    num_total, n = position.shape[:2]
    pilots = adapt_chains
    adapter = PilotStepSize(step_size, n, position, pilots, target_accept, adapt_factor)
    parts = density(position)
    log_w = torch.zeros(num_total, n, dtype=torch.float64, device=position.device)
    accepted = torch.zeros(num_total - pilots, n, dtype=torch.float64, device=position.device)
    num_transitions = len(betas) - 2
    for t in range(1, len(betas)):
        log_w += (betas[t] - betas[t - 1]) * (parts[0].double() - parts[1].double())
        if t < len(betas) - 1:
            beta = float(betas[t])
            step = hmc_transition(
                position,
                tempered(parts, beta),
                Proposals(density, beta),
                adapter.step_size,
                num_leapfrog,
            )
            position, parts = step.position.detach(), step.evaluation.extras
            accepted += step.accept_prob[pilots:].double()
            adapter.update(step.accept_prob)
        if on_step is not None:
            on_step()
    accept_rate = accepted.mean(0) / max(num_transitions, 1)
    return log_w[pilots:], accept_rate, adapter.step_size


def _log_mean_exp(log_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log mean exp over dim 0, delta-method standard error of it)``."""
    c = log_w.shape[0]
    lme = torch.logsumexp(log_w, 0) - math.log(c)
    w = (log_w - log_w.max(0).values).exp()
    rel = (
        w.std(0, unbiased=True) / w.mean(0) / math.sqrt(c)
        if c > 1
        else torch.full_like(lme, math.inf)
    )
    return lme, rel


def _chunks(
    n: int, num_chains: int, extra: int, batch_size: int, max_elements: int
) -> Iterator[tuple[int, int, int, int]]:
    """``(start, stop, chains)`` blocks: datapoints ``[start, stop)`` with ``chains`` scored chains,
    (chains + pilots) × datapoints ≤ ``max_elements`` where possible, so memory stays flat in C."""
    nb = max(1, min(batch_size, n, max_elements // (num_chains + extra)))
    for start in range(0, n, nb):
        stop = min(n, start + nb)
        per_group = max(1, max_elements // (stop - start) - extra)
        done = 0
        while done < num_chains:
            c = min(per_group, num_chains - done)
            yield start, stop, c
            done += c


def ais(
    model,
    guide=None,
    x: torch.Tensor | None = None,
    num_steps: int = DEFAULT_STEPS,
    num_chains: int = DEFAULT_CHAINS,
    *,
    start: str = "guide",
    schedule: str = "sigmoid",
    num_leapfrog: int = DEFAULT_LEAPFROG,
    step_size: float = 0.1,
    adapt_chains: int = 1,
    target_accept: float = 0.65,
    batch_size: int = 256,
    max_elements: int = 2**12,
    initial: dict[str, torch.Tensor] | None = None,
    reverse: bool = False,
    progress: bool = False,
) -> AISResult:
    """AIS estimate of log p(x) per datapoint for a model/guide pair (or a built model).

    :param model: a Pyro model keeping the contract of DESIGN.md, a built model, or a
        :class:`~evaluation.pair.PreparedPair` (prepared with ``check_guide=False`` for
        ``start="prior"`` on a pair without a guide).
    :param guide: its guide (``None`` for a built model or a fully observed one).
    :param x: ``(N, C, H, W)`` (or ``(N, D)``) observations.
    :param num_steps: T intermediate distributions (T − 1 HMC transitions); T = 1 is importance
        sampling from the start distribution with K = ``num_chains``.
    :param num_chains: C independent chains per datapoint; the estimate is their log-mean-exp
        weight.
    :param start: ``"guide"`` (q(z|x)) or ``"prior"`` (p(z)).
    :param schedule: ``"sigmoid"`` (default) or ``"linear"`` β_t.
    :param num_leapfrog: leapfrog steps per HMC transition.
    :param step_size: the initial leapfrog step size (adapted per datapoint on pilot chains).
    :param adapt_chains: pilot chains per datapoint that drive the adaptation (0: fixed step).
    :param batch_size: most datapoints annealed together.
    :param max_elements: chains × datapoints per vectorised pass (memory flat in T and C).
    :param initial: reverse AIS (BDMC) only: the exact posterior draws ``{site: (N, ...)}`` every
        chain of datapoint n starts from; with ``reverse`` the path runs from p(z|x) to q_0.
    :param reverse: run β from 1 to 0; ``log_likelihood`` is then −log-mean-exp of the reverse
        weights, a stochastic upper bound on log p(x) (Grosse et al. 2015).
    """
    check_settings(num_steps, num_chains, num_leapfrog, start, schedule, adapt_chains, step_size)
    betas = beta_schedule(num_steps, schedule)
    if reverse:
        betas = betas.flip(0)
    pair = prepare_pair(model, guide, x, probe_size=batch_size, check_guide=start == "guide")
    model_fn, guide_fn, x, nesting = pair.model, pair.guide, pair.x, pair.nesting
    if not (pair.has_latents if start == "guide" else pair.model_latents):
        exact = estimate(pair, num_particles=1, batch_size=batch_size).log_likelihood.double()
        zeros = torch.zeros_like(exact)
        return AISResult(exact, exact[None], zeros, zeros + 1, zeros, 1, 1, exact=True)
    pilots = adapt_chains if num_steps > 1 else 0
    blocks = list(_chunks(x.shape[0], num_chains, pilots, batch_size, max_elements))
    bar = _progress_bar(len(blocks) * num_steps, num_steps, num_chains) if progress else None
    weights: dict[int, list[torch.Tensor]] = {}
    accept: dict[int, list[torch.Tensor]] = {}
    steps: dict[int, torch.Tensor] = {}
    try:
        # Pyro's argument checks off for every pair: a proposal off the support is a
        # rejection (non-finite energy), never an error that ends the run
        with pair.evaluating(), pyro.validation_enabled(False):
            for lo, hi, chains in blocks:
                xb = x[lo:hi]
                total = chains + pilots
                with torch.no_grad():
                    values, supports = initial_state(model_fn, guide_fn, xb, total, nesting, start)
                if initial is not None:
                    values = _start_at(values, initial, lo, hi, nesting)
                position, sites = prepare(values, supports, nesting)
                density = PathDensity(model_fn, guide_fn, xb, nesting, start, sites)
                log_w, rate, eps = anneal(
                    density,
                    position,
                    betas,
                    num_leapfrog,
                    step_size,
                    pilots,
                    target_accept,
                    on_step=None if bar is None else bar.update,
                )
                weights.setdefault(lo, []).append(log_w.cpu())
                accept.setdefault(lo, []).append(rate.cpu() * chains)
                steps[lo] = eps.cpu()
    finally:
        if bar is not None:
            bar.close()
    return _result(weights, accept, steps, reverse, num_steps, num_chains)


def _progress_bar(total: int, num_steps: int, num_chains: int):
    from inference.progress import progress_bar

    return progress_bar(total=total, desc=f"AIS (T={num_steps}, C={num_chains})", unit="step")


def _result(
    weights: dict, accept: dict, steps: dict, reverse: bool, num_steps: int, num_chains: int
) -> AISResult:
    """The blocks' weights, acceptance and step sizes joined in datapoint order."""
    log_weights = torch.cat([torch.cat(weights[lo], 0) for lo in sorted(weights)], 1)
    lme, se = _log_mean_exp(log_weights)
    if reverse:
        # each chain's reverse weight estimates 1/p(x): the bound is −log-mean-exp of them
        lme, log_weights = -lme, -log_weights
    accept_rate = torch.cat([sum(accept[lo]) / num_chains for lo in sorted(accept)])
    step = torch.cat([steps[lo] for lo in sorted(steps)])
    return AISResult(lme, log_weights, se, accept_rate, step, num_steps, num_chains)


def check_settings(
    num_steps: int,
    num_chains: int,
    num_leapfrog: int,
    start: str = "guide",
    schedule: str = "sigmoid",
    adapt_chains: int = 1,
    step_size: float = 0.1,
) -> None:
    """Refuse, in one line, AIS settings :func:`ais` cannot run (also used before any work by
    :mod:`.bdmc` and the command line)."""
    check_count("num_steps", num_steps, maximum=MAX_AIS_STEPS)
    check_count("num_chains", num_chains, maximum=MAX_AIS_CHAINS)
    check_count("num_leapfrog", num_leapfrog, maximum=MAX_LEAPFROG)
    check_count("adapt_chains", adapt_chains, minimum=0)
    if not (
        isinstance(step_size, int | float)
        and not isinstance(step_size, bool)
        and step_size > 0
        and math.isfinite(step_size)
    ):
        raise PgmError(f"step_size: expected a positive number; found {step_size!r}")
    if start not in STARTS:
        raise PgmError(f"start: expected one of {STARTS}; found {start!r}")
    if schedule not in SCHEDULES:
        raise PgmError(f"schedule: expected one of {SCHEDULES}; found {schedule!r}")


def _start_at(values: dict, initial: dict, lo: int, hi: int, nesting: int) -> dict:
    """Every chain of datapoint n starts at the exact posterior draw ``initial[site]`` (reverse
    AIS), given in the trace's layout without chains: ``(mid..., N, event...)``."""
    out = {}
    for name, value in values.items():
        if name not in initial:
            raise PgmError(
                f"initial: expected a value for every latent site; found none for {name!r}"
            )
        z = torch.as_tensor(initial[name], dtype=value.dtype, device=value.device)
        z = z.reshape((1,) * (value.dim() - 1 - z.dim()) + tuple(z.shape))
        z = z.narrow(nesting - 1, lo, hi - lo).unsqueeze(0)
        out[name] = z.expand(
            value.shape[:1] + z.shape[1 : nesting + 1] + value.shape[nesting + 1 :]
        ).clone()
    return out


def ais_log_likelihood(
    model,
    guide=None,
    x: torch.Tensor | None = None,
    num_steps: int = DEFAULT_STEPS,
    num_chains: int = DEFAULT_CHAINS,
    **kwargs,
) -> torch.Tensor:
    """Per-datapoint AIS estimate of log p(x) in nats, ``(N,)`` float64. See :func:`ais`."""
    return ais(model, guide, x, num_steps, num_chains, **kwargs).log_likelihood
