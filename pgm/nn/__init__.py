"""Networks only: MLPs (plain and gated), encoders and decoders (dense, convolutional and gated
convolutional), masked convolutions, the PixelCNN, gated PixelCNN and PixelRNN networks, and
their streaming (cached) evaluation. A network never knows it is inside a distribution."""

from __future__ import annotations

from .autoregressive_network import AutoregressiveNetwork, OutputHead, PixelStep
from .conditioning import ContextProjection
from .decoders import make_decoder
from .diagonal_bilstm import DiagonalBiLSTM, DiagonalLSTM, skew, unskew
from .encoders import make_encoder
from .gated_conv import GatedConv2d, GatedConvDecoder, GatedConvEncoder
from .gated_mlp import GatedDense, GatedMLP
from .gated_pixelcnn import GatedPixelCNNNetwork
from .masked_conv import MaskedConv2d, causal_mask, channel_groups
from .mlp import MLP, make_mlp
from .pixelcnn import PixelCNNNetwork
from .pixelrnn import PixelRNNNetwork
from .row_lstm import RowLSTM
from .streaming import StreamCursor, StreamingModule, open_stream

__all__ = [
    "AutoregressiveNetwork",
    "ContextProjection",
    "DiagonalBiLSTM",
    "DiagonalLSTM",
    "GatedConv2d",
    "GatedConvDecoder",
    "GatedConvEncoder",
    "GatedDense",
    "GatedMLP",
    "GatedPixelCNNNetwork",
    "MLP",
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
    "make_decoder",
    "make_encoder",
    "make_mlp",
    "open_stream",
    "skew",
    "unskew",
]
