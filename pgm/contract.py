"""The one contract every model/guide pair keeps, and the trace probes both training and evaluation use.

- every per-datapoint site sits inside ``pyro.plate("data", N)`` at dim -1;
- the data is observed at the site ``"x"``;
- the guide samples every latent site of the model, and nothing else;
- both accept extra leading batch dims added by an outer particle plate.
"""

from __future__ import annotations

import torch
from pyro import poutine
from pyro.poutine.util import site_is_subsample

from .errors import PgmError

__all__ = [
    "DATA_PLATE",
    "OBSERVED_SITE",
    "check_data_plate",
    "check_observation_shapes",
    "latent_sites",
    "max_plate_nesting",
    "probe",
    "sample_sites",
    "trace_pair",
]

DATA_PLATE = "data"
OBSERVED_SITE = "x"


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
    """Raise ``ValueError`` naming the first sample site outside ``pyro.plate("data")`` at dim -1."""
    for trace in traces:
        for name, site in sample_sites(trace):
            frames = {f.name: f.dim for f in site["cond_indep_stack"] if f.vectorized}
            if frames.get(DATA_PLATE) != -1:
                where = "outside it" if DATA_PLATE not in frames else f"at dim {frames[DATA_PLATE]}"
                raise PgmError(
                    f"site {name!r}: expected inside pyro.plate({DATA_PLATE!r}, N) at dim -1 (the "
                    "contract: every per-datapoint site sits in the data plate); found it "
                    f"{where}, so its log-probability cannot be assigned to single datapoints"
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
            raise PgmError(
                f"site {name!r}: expected an observation of the distribution's shape {expected} "
                f"(batch_shape + event_shape); found shape {found}, which torch would broadcast "
                "silently into a wrong log-probability (reshape the data or the distribution)"
            )


@torch.no_grad()
def probe(model, guide, x: torch.Tensor, check: bool = False) -> tuple[int, bool]:
    """Trace the pair once on ``x``: ``(max_plate_nesting, has_latent_sites)``; with ``check``,
    also verify that every site sits in the data plate. Observations that would be broadcast
    against their distribution are always refused (:func:`check_observation_shapes`)."""
    model_trace, guide_trace = trace_pair(model, guide, x)
    check_observation_shapes(model_trace)
    if check:
        check_data_plate(model_trace, guide_trace)
    return max_plate_nesting(model_trace, guide_trace), bool(latent_sites(guide_trace))
