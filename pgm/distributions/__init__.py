"""Custom Pyro distributions: the autoregressive image families and their per-pixel outputs."""

from __future__ import annotations

from .discretized_logistic import DiscretizedLogisticMixture, discretized_logistic_log_prob

__all__ = ["DiscretizedLogisticMixture", "discretized_logistic_log_prob"]
