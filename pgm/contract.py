"""The one contract every model/guide pair keeps, and the trace probes both training and evaluation use.

- every per-datapoint site sits inside ``pyro.plate("data", N)`` at dim -1;
- the data is observed at the site ``"x"``;
- the guide samples every latent site of the model, and nothing else;
- both accept extra leading batch dims added by an outer particle plate.
"""

from __future__ import annotations

import pyro.poutine as poutine
import torch
from pyro.poutine.util import site_is_subsample

__all__ = ["DATA_PLATE", "OBSERVED_SITE", "trace_pair", "max_plate_nesting", "latent_sites", "sample_sites"]

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


@torch.no_grad()
def probe(model, guide, x: torch.Tensor) -> tuple[int, bool]:
    """Trace the pair once on ``x``: ``(max_plate_nesting, has_latent_sites)``."""
    model_trace, guide_trace = trace_pair(model, guide, x)
    return max_plate_nesting(model_trace, guide_trace), bool(latent_sites(guide_trace))
