"""The training objectives: Pyro's ELBOs by name, lean per-step versions of them, and a
differentiable importance-weighted bound.

``make_elbo("trace")`` and ``make_elbo("mean-field")`` return :class:`LeanTrace_ELBO` and
:class:`LeanTraceMeanField_ELBO`: the same estimators as Pyro's ``Trace_ELBO`` and
``TraceMeanField_ELBO`` (same sites, same sums, same surrogate for a reparameterised guide),
computed with less per-step work. The first call of each runs Pyro's own implementation, with
every check it makes when validation is on (model/guide site match, site shapes, enumeration,
the plate nesting it guesses); later calls run the guide and the model once each under a single
light messenger that replays the guide's values into the model and adds up scaled, masked
log-probabilities as the sites happen. What that skips is bookkeeping, not arithmetic: no
``Trace`` objects, no pruning and re-walking of them, no repeated structural checks, no
``torch_item`` host synchronisations (Pyro calls ``.item()`` per site to report the loss, which
stalls a GPU every step), and no per-step validation of distribution arguments and of the
observed data's support (each a full pass over the tensor plus a host synchronisation).
Validation has done its work on the first, checked call (shapes, plates, support of the data);
what it would catch later is a parameter turning NaN or infinite, which makes the loss
non-finite, and the trainer's finiteness guard stops on that within the step, naming the site.
A pair the lean pass does not cover (a guide site that is not
reparameterised, an enumerated site, an observed site in the guide, a model site the guide does
not sample) falls back to Pyro's implementation for good, so the numbers never differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyro
import torch
from pyro import infer
from pyro.distributions.util import scale_and_mask
from pyro.infer.util import get_dependent_plate_dims, torch_sum
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample
from torch.distributions import kl_divergence

from pgm.errors import PgmError

__all__ = [
    "ELBOS",
    "ImportanceWeightedELBO",
    "LeanTraceMeanField_ELBO",
    "LeanTrace_ELBO",
    "make_elbo",
]


class ImportanceWeightedELBO(infer.RenyiELBO):
    """Pyro's ``RenyiELBO`` with ``differentiable_loss``, so a plain torch optimiser can train
    on it. At ``alpha = 0`` it is the importance-weighted bound of Burda et al. (2016):

    .. math:: \\mathcal{L}_K = \\mathbb{E}\\Big[\\log \\frac1K \\sum_k \\frac{p(x, z_k)}{q(z_k|x)}\\Big]

    Pyro's ``RenyiELBO`` only offers ``loss_and_grads``, which back-propagates into
    param-store parameters; our models keep their weights in ``nn.Module``s. For a
    reparameterised guide the gradient of this loss is exactly the surrogate Pyro uses (the
    self-normalised weights times the per-particle gradients). Per-datapoint weights are kept
    separate: the log-sum-exp runs over particles only, as in Pyro.
    """

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        log_w = []
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            sum_dims = get_dependent_plate_dims(model_trace.nodes.values())
            w = 0.0
            for trace, sign in ((model_trace, 1.0), (guide_trace, -1.0)):
                for site in trace.nodes.values():
                    if site["type"] == "sample":
                        if sign < 0 and not site["fn"].has_rsample:
                            raise NotImplementedError(
                                "elbo 'iwae': expected a fully reparameterised guide; site "
                                f"{site['name']!r} is not"
                            )
                        w = w + sign * torch_sum(site["log_prob"], sum_dims)
            log_w.append(w)
        log_w = log_w[0] if self.vectorize_particles and self.num_particles > 1 else torch.stack(log_w)
        scaled = (1.0 - self.alpha) * log_w
        bound = (torch.logsumexp(scaled, 0) - math.log(self.num_particles)) / (1.0 - self.alpha)
        return -bound.sum()


class _NeedsPyro(Exception):
    """The pair uses something the lean pass does not handle; Pyro's implementation takes over."""


def _log_prob_sum(msg: dict) -> torch.Tensor:
    """A site's scaled and masked log-probability, summed: ``Trace.compute_log_prob``'s
    ``log_prob_sum``, computed the same way."""
    log_p = msg["fn"].log_prob(msg["value"], *msg["args"], **msg["kwargs"])
    return scale_and_mask(log_p, msg["scale"], msg["mask"]).sum()


class _LogDensity(Messenger):
    """Adds up log-densities of a program's sample sites as they run.

    Around the guide (``guide_sites=None``) it records each site and, unless the KL is to be
    taken in closed form, subtracts log q(z). Around the model it replays the guide's values
    (as ``poutine.replay`` does) and adds log p of every site, or, with ``closed_form_kl``,
    subtracts KL(q || p) for latent sites where one is registered (as ``TraceMeanField_ELBO``).
    It sits outside the program, so plates and handlers inside (KL warm-up's scaling) have
    already set ``scale``, ``mask`` and the broadcast ``fn`` by the time it reads them.
    """

    def __init__(self, guide_sites: dict | None = None, closed_form_kl: bool = False):
        super().__init__()
        self.guide_sites = guide_sites
        self.closed_form_kl = closed_form_kl
        self.sites: dict[str, dict] = {}
        self.elbo: torch.Tensor | float = 0.0

    def _pyro_sample(self, msg: dict) -> None:
        if self.guide_sites is None or msg["is_observed"]:
            return
        guide_msg = self.guide_sites.get(msg["name"])
        if guide_msg is None:
            if site_is_subsample(msg):
                return  # a plate the guide does not open: nothing to replay
            raise _NeedsPyro  # Pyro's checks name the mismatch
        msg["value"] = guide_msg["value"]
        msg["infer"] = guide_msg["infer"]
        msg["done"] = True

    def _pyro_post_sample(self, msg: dict) -> None:
        if msg["infer"].get("enumerate"):
            raise _NeedsPyro
        if site_is_subsample(msg):
            if self.guide_sites is None:
                self.sites[msg["name"]] = msg  # the model's plate replays the guide's indices
            return
        if self.guide_sites is None:
            # a score-function term (non-reparameterised site) or an observed guide site needs
            # Pyro's surrogate; this pass only covers the pathwise estimator
            if msg["is_observed"] or not msg["fn"].has_rsample:
                raise _NeedsPyro
            self.sites[msg["name"]] = msg
            if not self.closed_form_kl:
                self.elbo = self.elbo - _log_prob_sum(msg)
            return
        if msg["is_observed"] or not self.closed_form_kl:
            self.elbo = self.elbo + _log_prob_sum(msg)
            return
        guide_msg = self.guide_sites[msg["name"]]
        try:
            kl = kl_divergence(guide_msg["fn"], msg["fn"])
        except NotImplementedError:
            self.elbo = self.elbo + _log_prob_sum(msg) - _log_prob_sum(guide_msg)
            return
        kl = scale_and_mask(kl, guide_msg["scale"], guide_msg["mask"])
        kl_sum = kl.sum() if torch.is_tensor(kl) else kl * guide_msg["fn"].batch_shape.numel()
        self.elbo = self.elbo - kl_sum


class _LeanMixin:
    """``differentiable_loss`` by one light pass per particle after a first, fully checked one."""

    closed_form_kl = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # None: not called yet; True: the lean pass applies; False: Pyro's path for good
        self.lean: bool | None = None

    def _lean_particle(self, model: Callable, guide: Callable, args, kwargs) -> torch.Tensor:
        with _LogDensity(closed_form_kl=self.closed_form_kl) as guide_pass:
            guide(*args, **kwargs)
        with _LogDensity(guide_pass.sites, self.closed_form_kl) as model_pass:
            model(*args, **kwargs)
        return guide_pass.elbo + model_pass.elbo

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        if self.lean is None:
            loss = super().differentiable_loss(model, guide, *args, **kwargs)
            self.lean = True
            return loss
        if not self.lean:
            return super().differentiable_loss(model, guide, *args, **kwargs)
        try:
            with pyro.validation_enabled(False):
                if self.vectorize_particles and self.num_particles > 1:
                    vec_model = self._vectorized_num_particles(model)
                    vec_guide = self._vectorized_num_particles(guide)
                    elbo = self._lean_particle(vec_model, vec_guide, args, kwargs)
                else:
                    particles = range(self.num_particles)
                    elbo = sum(self._lean_particle(model, guide, args, kwargs) for _ in particles)
        except _NeedsPyro:
            self.lean = False
            return super().differentiable_loss(model, guide, *args, **kwargs)
        return -elbo / self.num_particles


class LeanTrace_ELBO(_LeanMixin, infer.Trace_ELBO):
    """Pyro's ``Trace_ELBO`` (sampled KL), with the per-step bookkeeping left out after the
    first, fully checked call (see the module's docstring):

    .. math:: \\mathcal{L} = \\mathbb{E}_{q(z|x)}\\big[\\log p(x, z) - \\log q(z \\mid x)\\big]
    """


class LeanTraceMeanField_ELBO(_LeanMixin, infer.TraceMeanField_ELBO):
    """Pyro's ``TraceMeanField_ELBO`` (closed-form KL(q || p) where one is registered, sampled
    otherwise), with the per-step bookkeeping left out after the first, fully checked call."""

    closed_form_kl = True


#: Accepted names for the ``elbo`` config key.
ELBOS = {
    "trace": "Trace_ELBO: sampled KL",
    "mean-field": "TraceMeanField_ELBO: closed-form KL where registered, sampled otherwise",
    "iwae": "importance-weighted bound, RenyiELBO(alpha=0) with vectorised particles",
}
_ALIASES = {"Trace_ELBO": "trace", "TraceMeanField_ELBO": "mean-field", "RenyiELBO": "iwae"}


def make_elbo(name: str, num_particles: int = 1, max_plate_nesting: int | None = None) -> infer.ELBO:
    """The ELBO called ``name`` (``trace``, ``mean-field``, ``iwae``, or Pyro's class names)."""
    name = _ALIASES.get(name, name)
    if name not in ELBOS:
        valid = ", ".join(sorted(set(ELBOS) | set(_ALIASES)))
        raise PgmError(f"elbo: expected one of {valid}; found {name!r}")
    vectorize = num_particles > 1
    kwargs = {"num_particles": num_particles, "vectorize_particles": vectorize}
    if max_plate_nesting is not None:
        kwargs["max_plate_nesting"] = max_plate_nesting
    if name == "trace":
        return LeanTrace_ELBO(**kwargs)
    if name == "mean-field":
        return LeanTraceMeanField_ELBO(**kwargs)
    return ImportanceWeightedELBO(alpha=0.0, **kwargs)
