"""Multilayer perceptrons whose layers are exactly the widths they are given."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..errors import PgmError
from ..validation import check_choice
from .gated_mlp import GatedMLP

__all__ = [
    "ACTIVATIONS",
    "GATED_MLP_READS",
    "MLP",
    "MLP_NETWORKS",
    "activation_class",
    "make_mlp",
]

#: The hidden layers' non-linearity, by the name configs use (IWAE uses tanh).
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


#: the layer settings a gated-mlp network reads: its widths; its gates are its non-linearity,
#: so ``activation`` does not apply (the ``reads`` of its encoder and decoder registrations)
GATED_MLP_READS = ("hidden_dim", "hidden_layers", "hidden_dims")


def activation_class(name: str) -> type[nn.Module]:
    """The hidden layers' activation called ``name`` in a config (``activation``)."""
    return ACTIVATIONS[check_choice(name, "activation", ACTIVATIONS)]


#: Network names that build an MLP (``make_mlp``).
MLP_NETWORKS = ("gated-mlp", "mlp")


class MLP(nn.Sequential):
    """Linear -> activation for each width in ``hidden_dims``, then (when ``out_features`` is
    given) one linear layer with no activation after it:
    ``(..., in_features) -> (..., out_features or hidden_dims[-1])``.

    ``MLP(784, [400])`` is 784-400 (one hidden layer), so a guide's heads on top make the
    784-400-50 encoder a config names; nothing is added between the layers listed. A
    ``Sequential``: ``mlp[0]`` is the first linear layer.
    """

    def __init__(
        self,
        in_features: int,
        hidden_dims: Sequence[int],
        out_features: int | None = None,
        activation: str = "relu",
    ) -> None:
        act = activation_class(activation)
        widths = [in_features, *hidden_dims]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), act()]
        if out_features is not None:
            layers.append(nn.Linear(widths[-1], out_features))
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features = widths[-1] if out_features is None else out_features


def make_mlp(
    network: str,
    in_features: int,
    hidden_dims: Sequence[int],
    out_features: int | None = None,
    activation: str = "relu",
) -> nn.Module:
    """An ``mlp`` (``activation`` between layers) or a ``gated-mlp`` (gates are the
    non-linearity; ``activation`` is not used): ``(..., in_features) -> (..., out_features)``,
    where ``out_features`` defaults to the last hidden width. The result has ``.out_features``."""
    if network == "mlp":
        return MLP(in_features, hidden_dims, out_features, activation)
    if network == "gated-mlp":
        return GatedMLP(in_features, hidden_dims, out_features)
    raise PgmError(f"network: expected one of {', '.join(MLP_NETWORKS)}; found {network!r}")
