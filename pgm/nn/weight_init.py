"""How a model's dense layers start: ``weight_init = "torch"`` keeps PyTorch's own
initialisation (the default, what every earlier run trained with); ``"he"`` redraws the weight
of every :class:`torch.nn.Linear` of a built-in model from N(0, 2 / fan_in) (He et al. 2015), as
the VampPrior authors' code does (Tomczak & Welling 2018, github.com/jmtomczak/vae_vampprior,
``utils/nn.py:he_init``). Biases, convolutions, normalising flows' networks and parameters
outside linear layers (a VampPrior's pseudo-inputs) keep their own initialisation; a plug-in
model initialises itself (it may call :func:`apply_weight_init`), and a plug-in's part or
network under a built-in model keeps the initialisation its factory drew.

The authors draw every Gaussian head this way with its log-variance clamped to [-6, 2], and
feed their encoders {0, 1}. With pgm's softplus scales and ``encoder_input = "centred"`` an
He-drawn ``hvae`` starts with some p(z1 | z2) standard deviations near 2e-3 and a first -ELBO of
1.3e3 to 4e4 (up to 9e6 on one image; 5 seeds, 500 binarized-MNIST images, against 545 with
PyTorch's initialisation); with ``"unit"`` input it starts near 670. Use it as their code does:
``encoder_input = "unit"``, ``guide = "clamped-diagonal-normal"`` and, under ``hvae``,
``conditional_scale = "clamped-log-variance"``."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import PgmError

__all__ = ["WEIGHT_INITS", "apply_weight_init", "keep_initialisation"]

#: the choices of the ``weight_init`` key
WEIGHT_INITS = ("torch", "he")


@torch.no_grad()
def apply_weight_init(module: nn.Module, scheme: str) -> nn.Module:
    """Redraw ``module``'s linear weights by ``scheme`` (one of :data:`WEIGHT_INITS`), in the
    order :meth:`torch.nn.Module.modules` visits them, from torch's global generator; returns
    ``module``."""
    if scheme not in WEIGHT_INITS:
        raise PgmError(f"weight_init: expected one of {', '.join(WEIGHT_INITS)}; found {scheme!r}")
    if scheme == "he":
        for layer in _dense_layers(module):
            layer.weight.normal_(0.0, math.sqrt(2.0 / layer.in_features))
    return module


#: the attribute marking a module that keeps its own initialisation (a plug-in's part)
_OWN = "_pgm_keeps_its_initialisation"


def keep_initialisation(module):
    """Mark ``module`` (a part or network a plug-in built) to keep the initialisation its author
    chose: :func:`apply_weight_init` leaves every layer inside it alone. Returns ``module``."""
    if isinstance(module, nn.Module):
        object.__setattr__(module, _OWN, True)
    return module


def _dense_layers(module: nn.Module) -> list[nn.Linear]:
    """The linear layers of ``module`` outside normalising flows and plug-ins' parts: a flow's
    networks (Pyro's couplings and autoregressive transforms) keep the initialisation Pyro chose,
    which starts them near the identity (He-drawn, a flow prior's first loss was 1e11), and a
    plug-in's part or network keeps its author's (:func:`keep_initialisation`)."""
    from pyro.distributions.conditional import ConditionalTransformModule
    from pyro.distributions.torch_transform import TransformModule

    flows = (TransformModule, ConditionalTransformModule)
    inside = {
        id(m)
        for own in module.modules()
        if isinstance(own, flows) or getattr(own, _OWN, False)
        for m in own.modules()
    }
    return [m for m in module.modules() if isinstance(m, nn.Linear) and id(m) not in inside]
