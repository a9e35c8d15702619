"""The one contract every model/guide pair keeps, and the trace probes both training and
evaluation use.

- every per-datapoint site sits inside ``pyro.plate("data", N)`` at dim -1;
- the data is observed at the site ``"x"``;
- the guide samples every latent site of the model, and nothing else;
- both accept extra leading batch dims added by an outer particle plate (the particle-dimension
  rule: no latent is reshaped with ``x.shape[0]``; :func:`check_particles` probes it with two
  particles when a pair is first used, by training and by every estimator);
- no site is scaled: ``poutine.scale`` is refused, and a subsampled data plate is accepted only
  when its indices are the whole batch in order (``subsample=torch.arange(N)``), whose
  scale ``full_size / N`` the estimator then leaves out.

A pair that breaks a rule is refused by :class:`pgm.errors.ContractError` naming the site and
the rule.
"""

from __future__ import annotations

import math

import pyro
import torch
from pyro import poutine
from pyro.poutine.util import site_is_subsample

from .errors import ContractError

__all__ = [
    "DATA_PLATE",
    "OBSERVED_SITE",
    "check_data_plate",
    "check_latent_sites",
    "check_observation_shapes",
    "check_particles",
    "check_unscaled",
    "latent_sites",
    "max_plate_nesting",
    "probe",
    "sample_sites",
    "subsample_scale",
    "trace_pair",
]

DATA_PLATE = "data"
OBSERVED_SITE = "x"
PARTICLE_PLATE = "_pgm_particles"
PARTICLE_RULE = (
    "the particle-dimension rule: model and guide accept extra leading batch dims added by an "
    "outer particle plate, so a latent is never reshaped with x.shape[0] (index from the right, "
    "e.g. z.reshape(*z.shape[:-1], ...))"
)


def sample_sites(trace: poutine.Trace):
    """``(name, site)`` of the sample sites of a trace, plates' subsample sites left out."""
    return [
        (name, site)
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and not site_is_subsample(site)
    ]


def trace_pair(model, guide, *args, **kwargs) -> tuple[poutine.Trace, poutine.Trace]:
    """Run the guide, then the model replayed against it: ``(model_trace, guide_trace)``."""
    guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    return model_trace, guide_trace


def latent_sites(guide_trace: poutine.Trace) -> list[str]:
    return [name for name, site in sample_sites(guide_trace) if not site["is_observed"]]


def max_plate_nesting(model_trace: poutine.Trace, guide_trace: poutine.Trace) -> int:
    """The number of plate dims the pair uses (at least 1, the data plate)."""
    dims = [
        -frame.dim
        for trace in (model_trace, guide_trace)
        for _, site in sample_sites(trace)
        for frame in site["cond_indep_stack"]
        if frame.vectorized
    ]
    return max(dims, default=1)


def check_data_plate(*traces: poutine.Trace) -> None:
    """Raise ``ValueError`` naming the first sample site outside ``pyro.plate("data")`` at
    dim -1."""
    for trace in traces:
        for name, site in sample_sites(trace):
            frames = {f.name: f.dim for f in site["cond_indep_stack"] if f.vectorized}
            if frames.get(DATA_PLATE) != -1:
                where = "outside it" if DATA_PLATE not in frames else f"at dim {frames[DATA_PLATE]}"
                raise ContractError(
                    f"site {name!r}: expected inside pyro.plate({DATA_PLATE!r}, N) at dim -1 (the "
                    "contract: every per-datapoint site sits in the data plate); found it "
                    f"{where}, so its log-probability cannot be assigned to single datapoints"
                )


def check_latent_sites(
    model_trace: poutine.Trace, guide_trace: poutine.Trace, guide_given: bool = True
) -> None:
    """Raise ``ContractError`` unless the guide samples exactly the model's latent sites and
    observes nothing: a model site the guide leaves out is drawn from the prior inside the model
    and a guide-only site has no density under the model, so in either case
    ``log p(x, z) - log q(z | x)`` is not an importance weight of p(x)."""
    observed = [name for name, site in sample_sites(guide_trace) if site["is_observed"]]
    if observed:
        raise ContractError(
            f"guide: expected only latent sites; found observed site(s) {observed} in the guide "
            "(the data is observed in the model)"
        )
    model_latent = [name for name, site in sample_sites(model_trace) if not site["is_observed"]]
    guide_latent = set(latent_sites(guide_trace))
    if model_latent and not guide_given:
        raise ContractError(
            f"guide: expected a guide q(z | x) for the model's latent site(s) {model_latent}; "
            "found none (guide=None is only for a fully observed model)"
        )
    missing = [name for name in model_latent if name not in guide_latent]
    if missing:
        raise ContractError(
            f"guide: expected it to sample every latent site of the model; it does not sample "
            f"{missing}, which would be drawn from the prior and left out of the weight"
        )
    extra = sorted(guide_latent - set(model_latent))
    if extra:
        raise ContractError(
            f"guide: expected it to sample only the model's latent sites; found site(s) {extra} "
            "that the model does not have (an auxiliary variable has no density under the "
            "model, so the weight would not estimate p(x))"
        )


def subsample_scale(site: dict) -> float:
    """The scale the site's subsampled plates put on it, the product of ``full_size / size``."""
    scale = 1.0
    for frame in site["cond_indep_stack"]:
        if frame.full_size is not None and frame.size != frame.full_size:
            scale *= frame.full_size / frame.size
    return scale


def check_unscaled(model_trace: poutine.Trace, guide_trace: poutine.Trace, num_rows: int) -> None:
    """Raise ``ContractError`` for a site scaled other than by a data plate that covers the
    batch: ``poutine.scale``, a subsampled plate other than ``"data"``, or a data plate whose
    indices are not ``0, ..., N-1`` (``subsample_size`` smaller than the batch, random indices),
    which would score some datapoints and not others."""
    for trace in (model_trace, guide_trace):
        for name, site in trace.nodes.items():
            if site["type"] == "sample" and site_is_subsample(site) and name == DATA_PLATE:
                index = site["value"]
                whole = torch.arange(num_rows, device=index.device)
                if index.shape != whole.shape or not torch.equal(index, whole):
                    shown = index.flatten()[:4].tolist()
                    preview = str(shown)[:-1] + (", ...]" if index.numel() > 4 else "]")
                    raise ContractError(
                        f"pyro.plate({DATA_PLATE!r}): expected it to cover the batch of "
                        f"{num_rows} datapoints in order (size N, or subsample=torch.arange(N)); "
                        f"found {index.numel()} subsampled indices {preview} of "
                        f"{getattr(site['fn'], 'size', '?')}, so the scores would not be the "
                        "batch's datapoints' (the estimator scores every datapoint; pass the "
                        "datapoints to score as the batch instead)"
                    )
        for name, site in sample_sites(trace):
            for frame in site["cond_indep_stack"]:
                if (
                    frame.full_size is not None
                    and frame.size != frame.full_size
                    and frame.name != DATA_PLATE
                ):
                    raise ContractError(
                        f"site {name!r}: expected no subsampled plate but the data plate; found "
                        f"pyro.plate({frame.name!r}) taking {frame.size} of {frame.full_size}, "
                        "whose scaled sum only estimates the datapoint's log-probability"
                    )
            extra = site["scale"] / subsample_scale(site)
            if not torch.all(torch.as_tensor(extra) == 1.0):
                found = extra if not torch.is_tensor(extra) or extra.numel() == 1 else "a tensor"
                raise ContractError(
                    f"site {name!r}: expected an unscaled log-probability; found it scaled by "
                    f"{float(found) if not isinstance(found, str) else found} (poutine.scale, e.g. "
                    "KL warm-up), which would scale the estimate; evaluate the unscaled model"
                )


def check_observation_shapes(trace: poutine.Trace) -> None:
    """Raise ``ValueError`` naming an observed site whose value torch would broadcast against
    its distribution, e.g. ``obs`` of shape ``(N, 1)`` against a batch ``(N,)``, which gives an
    ``(N, N)`` log-probability. Pyro's own shape check cannot see this when the broadcast size
    equals a plate's (N particles and N images), so the value is compared with ``fn.shape()``.
    """
    for name, site in sample_sites(trace):
        value = site["value"]
        if not site["is_observed"] or not torch.is_tensor(value):
            continue
        expected = tuple(site["fn"].batch_shape + site["fn"].event_shape)
        found = tuple(value.shape)
        tail = expected[len(expected) - len(found) :] if len(found) <= len(expected) else None
        if tail is None or any(v == 1 and e != 1 for v, e in zip(found, tail, strict=True)):
            raise ContractError(
                f"site {name!r}: expected an observation of the distribution's shape {expected} "
                f"(batch_shape + event_shape); found shape {found}, which torch would broadcast "
                "silently into a wrong log-probability (reshape the data or the distribution)"
            )


def _particle(value: torch.Tensor, event_dim: int, dim: int, k: int, p: int) -> torch.Tensor:
    """Particle ``p`` of a value drawn under a ``k``-particle plate at batch dim ``dim`` (< 0)."""
    batch = value.dim() - event_dim
    if batch < -dim:
        return value
    at = batch + dim
    if value.shape[at] == k:
        return value.select(at, p)
    return value.squeeze(at) if value.shape[at] == 1 else value


def _site_totals(trace: poutine.Trace, dim: int | None, k: int) -> torch.Tensor:
    """Sum over the sample sites of the log-probabilities, per particle ``(k,)`` (``dim`` the
    particle plate's batch dim) or, without particles (``dim`` None), as a scalar."""
    trace.compute_log_prob()
    total = torch.zeros(k if dim is not None else ())
    for _, site in sample_sites(trace):
        lp = torch.as_tensor(site["log_prob"])
        if dim is not None and lp.dim() >= -dim and lp.shape[dim] == k:
            per = lp.movedim(dim, 0).reshape(k, -1).sum(-1)
        else:
            per = lp.sum().expand(k) if dim is not None else lp.sum()
        total = total + per.to(total)
    return total


def _replay_values(trace: poutine.Trace, dim: int, k: int, p: int) -> poutine.Trace:
    """A trace of particle ``p``'s latent values, for replaying the pair without particles."""
    out = poutine.Trace()
    for name, site in sample_sites(trace):
        if site["is_observed"]:
            continue
        value = _particle(site["value"], site["fn"].event_dim, dim, k, p)
        out.add_node(name, type="sample", name=name, is_observed=False, value=value, infer={})
    return out


@torch.no_grad()
def check_particles(model, guide, x: torch.Tensor, nesting: int) -> None:
    """Refuse, naming :data:`PARTICLE_RULE`, a pair that breaks the particle-dimension rule.

    The pair runs once under an outer plate of two particles (three when the batch has two
    datapoints, so that no shape coincides), and once per particle without it, replaying that
    particle's latent values: every particle's log p(x, z) and log q(z | x) must equal its own
    run's. A latent reshaped with ``x.shape[0]`` either fails under the plate or mixes particles
    and datapoints (IS was off by hundreds of nats on such a pair)."""
    k = 3 if x.shape[0] == 2 else 2
    dim = -(nesting + 1)
    try:
        with pyro.plate(PARTICLE_PLATE, k, dim=dim):
            model_trace, guide_trace = trace_pair(model, guide, x)
        joint, start = _site_totals(model_trace, dim, k), _site_totals(guide_trace, dim, k)
    except (RuntimeError, ValueError, IndexError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ContractError(
            f"model/guide: expected {PARTICLE_RULE}; found the pair fails with {k} particles "
            f"({first[:160]})"
        ) from None
    for p in range(k):
        values = _replay_values(guide_trace, dim, k, p)
        guide_p = poutine.trace(poutine.replay(guide, trace=values)).get_trace(x)
        model_values = _replay_values(model_trace, dim, k, p)
        model_p = poutine.trace(poutine.replay(model, trace=model_values)).get_trace(x)
        found = (float(joint[p]), float(start[p]))
        single = (float(_site_totals(model_p, None, k)), float(_site_totals(guide_p, None, k)))
        for a, b, what in zip(found, single, ("log p(x, z)", "log q(z | x)"), strict=True):
            if a == b or math.isnan(a) or math.isnan(b):
                # the same infinity (weights giving the data no probability) or NaN: not a
                # mixing the rule can see; the estimator refuses non-finite values itself
                continue
            if not abs(a - b) <= 1e-2 + 1e-4 * max(abs(a), abs(b)):
                raise ContractError(
                    f"model/guide: expected {PARTICLE_RULE}; found {what} of particle {p} is "
                    f"{a:.2f} with {k} particles but {b:.2f} alone, so particles and "
                    "datapoints are mixed"
                )


@torch.no_grad()
def probe(
    model,
    guide,
    x: torch.Tensor,
    check: bool = False,
    guide_given: bool = True,
    check_guide: bool = True,
) -> tuple[int, bool]:
    """Trace the pair once on ``x``: ``(max_plate_nesting, has_latent_sites)``; with ``check``,
    also verify the estimator's contract: every site in the data plate, the guide's latent sites
    the model's (``guide_given=False``: the pair has no guide of its own; ``check_guide=False``:
    the guide is not used, e.g. AIS started at the prior), no scaled site (see the module's
    docstring). Observations that would be broadcast against their distribution are always
    refused (:func:`check_observation_shapes`), and so is a latent pair that breaks the
    particle-dimension rule (:func:`check_particles`)."""
    model_trace, guide_trace = trace_pair(model, guide, x)
    check_observation_shapes(model_trace)
    if check:
        if check_guide:
            check_latent_sites(model_trace, guide_trace, guide_given)
        check_data_plate(model_trace, guide_trace)
        check_unscaled(model_trace, guide_trace, x.shape[0])
    nesting = max_plate_nesting(model_trace, guide_trace)
    has_latents = bool(latent_sites(guide_trace)) or bool(latent_sites(model_trace))
    if has_latents:
        check_particles(model, guide, x, nesting)
    return nesting, bool(latent_sites(guide_trace))
