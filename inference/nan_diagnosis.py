"""The NaN guard of a training step: a non-finite loss, gradient or distribution parameter
stops training within the step, in one line naming the step and, where it can be known, the
Pyro site (or parameter) where the values stopped being finite."""

from __future__ import annotations

import pyro
import torch

from pgm.contract import sample_sites, trace_pair

__all__ = [
    "NonFiniteLossError",
    "check_gradients",
    "check_invalid_parameters",
    "check_loss",
    "describe_nonfinite",
    "first_line",
    "invalid_parameters",
]

_UNTOUCHED = "training stopped, the last checkpoint is untouched"


class NonFiniteLossError(FloatingPointError):
    """Training met a non-finite loss or gradient; the message names the step and, where it can
    be known, the Pyro site whose log-probability was not finite."""


def first_line(err: BaseException) -> str:
    """The sentence of an error that says what went wrong (torch follows it with the values)."""
    text = str(err).strip()
    return text.splitlines()[0].rstrip(":") if text else type(err).__name__


def describe_nonfinite(model, guide, x: torch.Tensor) -> str:
    """Name the sites whose log-probability (or value) is not finite, if any. Validation is off
    while tracing, so a distribution built from NaN parameters yields a NaN log-probability at
    its site instead of an error before the site exists."""
    try:
        with torch.no_grad(), pyro.validation_enabled(False), torch.random.fork_rng():
            model_trace, guide_trace = trace_pair(model, guide, x)
            bad = []
            # in the order they ran: the guide first, so the first site named is the earliest
            for which, trace in (("guide", guide_trace), ("model", model_trace)):
                trace.compute_log_prob()
                for name, site in sample_sites(trace):
                    if not torch.isfinite(torch.as_tensor(site["log_prob"])).all():
                        bad.append(f"{which} site {name!r}")
                    elif (
                        torch.is_tensor(site["value"])
                        and site["value"].is_floating_point()
                        and not torch.isfinite(site["value"]).all()
                    ):
                        bad.append(f"{which} site {name!r} (value)")
        return "; non-finite log-probability at " + ", ".join(bad) if bad else ""
    except Exception as err:  # the model may itself fail on such values
        first = str(err).splitlines()[0] if str(err) else ""
        return f"; tracing to find the site failed too ({type(err).__name__}: {first})"


def _where(step: int, epoch: int) -> str:
    return f"step {step + 1} (epoch {epoch + 1})"


def invalid_parameters(err: BaseException) -> bool:
    """Whether ``err`` is torch's argument validation refusing a distribution's parameters
    (anywhere in the message: Pyro may wrap it, naming the site first)."""
    text = str(err)
    return isinstance(err, ValueError) and "Expected parameter" in text and "invalid values" in text


def check_invalid_parameters(
    err: ValueError, model, xb: torch.Tensor, step: int, epoch: int, validating: bool = False
):
    """A distribution refusing its parameters (Pyro/torch validation) mid-training is the same
    failure as a NaN loss, one step earlier: raise it as such, naming the step (``step`` and
    ``epoch`` are the 0-based counters before the step), or, ``validating``, the validation
    pass of epoch ``epoch + 1``. Any other error is left to its caller."""
    params_finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    if not invalid_parameters(err) and params_finite:
        return  # a different mistake (shapes, support of the data): re-raised as it is
    where = describe_nonfinite(model.model, model.guide, xb)
    weights = "" if params_finite else " (the model's weights are no longer finite)"
    at = f"validation after epoch {epoch + 1}" if validating else _where(step, epoch)
    raise NonFiniteLossError(
        f"{at}: a distribution's parameters are not finite or outside "
        f"their constraint{weights}: {first_line(err)}{where}; {_UNTOUCHED} (try a lower lr or "
        "grad_clip)"
    ) from None


def check_loss(loss: torch.Tensor, model, xb: torch.Tensor, step: int, epoch: int) -> None:
    """Refuse a non-finite loss before any gradient is taken from it."""
    if not torch.isfinite(loss):
        where = describe_nonfinite(model.model, model.guide, xb)
        raise NonFiniteLossError(
            f"{_where(step, epoch)}: the loss is {float(loss.detach())}{where}; "
            f"{_UNTOUCHED} (try a lower lr or grad_clip)"
        )


def check_gradients(model, xb: torch.Tensor, step: int, epoch: int) -> None:
    """Refuse non-finite gradients before the optimiser steps, naming up to three parameters."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    # A plain sum is non-finite exactly when some element is (NaN stays NaN, inf − inf is
    # NaN), short of finite gradients near 1e38, which are a failure too: one read of each
    # gradient and no temporaries, where abs() would write a copy of every one first.
    if grads and not torch.isfinite(torch.stack([g.sum() for g in grads]).sum()):
        names = [
            n
            for n, p in model.named_parameters()
            if p.grad is not None and not torch.isfinite(p.grad).all()
        ]
        named = ", ".join(names[:3]) or "the parameters (finite, but summing past float range)"
        where = describe_nonfinite(model.model, model.guide, xb)
        raise NonFiniteLossError(
            f"{_where(step, epoch)}: non-finite gradient for {named}{where}; {_UNTOUCHED}"
        )
