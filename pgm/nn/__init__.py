"""Networks only: masked convolutions, the PixelCNN, gated PixelCNN and PixelRNN networks, and
their streaming (cached) evaluation. A network never knows it is inside a distribution."""

from __future__ import annotations

from .autoregressive_network import AutoregressiveNetwork, OutputHead, PixelStep
from .conditioning import ContextProjection
from .diagonal_bilstm import DiagonalBiLSTM, DiagonalLSTM, skew, unskew
from .gated_pixelcnn import GatedPixelCNNNetwork
from .masked_conv import MaskedConv2d, causal_mask, channel_groups
from .pixelcnn import PixelCNNNetwork
from .pixelrnn import PixelRNNNetwork
from .row_lstm import RowLSTM
from .streaming import StreamCursor, StreamingModule, open_stream

__all__ = [
    "AutoregressiveNetwork",
    "ContextProjection",
    "DiagonalBiLSTM",
    "DiagonalLSTM",
    "GatedPixelCNNNetwork",
    "MaskedConv2d",
    "OutputHead",
    "PixelCNNNetwork",
    "PixelRNNNetwork",
    "PixelStep",
    "RowLSTM",
    "StreamCursor",
    "StreamingModule",
    "causal_mask",
    "channel_groups",
    "open_stream",
    "skew",
    "unskew",
]
