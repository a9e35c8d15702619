"""Custom Pyro distributions: the autoregressive image families and their per-pixel outputs."""

from __future__ import annotations

from .autoregressive_image import AutoregressiveImageDistribution
from .diagonal_normal_mixture import DiagonalNormalMixture
from .discretized_logistic import DiscretizedLogisticMixture, discretized_logistic_log_prob
from .pixel_output import OUTPUTS, params_per_channel, resolve_output
from .pixelcnn import PixelCNN
from .pixelrnn import PixelRNN

__all__ = [
    "OUTPUTS",
    "AutoregressiveImageDistribution",
    "DiagonalNormalMixture",
    "DiscretizedLogisticMixture",
    "PixelCNN",
    "PixelRNN",
    "discretized_logistic_log_prob",
    "params_per_channel",
    "resolve_output",
]
