"""The gated MLP of the VampPrior paper: dense layers h = (W1 x + b1) * sigmoid(W2 x + b2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["GatedDense", "GatedMLP"]


class GatedDense(nn.Module):
    """A gated dense layer (Dauphin et al. 2017; Tomczak & Welling 2018, Sec. 4):

    .. math:: h = (W_1 x + b_1) \\odot \\sigma(W_2 x + b_2)

    ``x: (..., in_features) -> (..., out_features)``; ``self.h`` holds (W1, b1), ``self.gate``
    holds (W2, b2). The gate is the layer's non-linearity: no activation follows it.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.h = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(x) * torch.sigmoid(self.gate(x))


class GatedMLP(nn.Sequential):
    """Gated dense layers of widths ``hidden_dims``, then (when ``out_features`` is given) one
    plain linear layer: ``(..., in_features) -> (..., out_features or hidden_dims[-1])``.

    With ``in_features = 784``, ``hidden_dims = [300, 300]`` this is the VampPrior paper's
    encoder body (784-300-300, gated) before its (mean, log-variance) heads.

    References:
        J. M. Tomczak, M. Welling. "VAE with a VampPrior." AISTATS 2018.
    """

    def __init__(
        self, in_features: int, hidden_dims: Sequence[int], out_features: int | None = None
    ) -> None:
        widths = [in_features, *hidden_dims]
        layers: list[nn.Module] = [
            GatedDense(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        ]
        if out_features is not None:
            layers.append(nn.Linear(widths[-1], out_features))
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features = widths[-1] if out_features is None else out_features
