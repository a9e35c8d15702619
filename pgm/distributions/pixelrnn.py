"""The PixelRNN distribution: an autoregressive image likelihood from Row LSTM or
Diagonal BiLSTM layers."""

from __future__ import annotations

from ..nn.autoregressive_network import AutoregressiveNetwork
from ..nn.pixelrnn import PixelRNNNetwork
from .autoregressive_image import AutoregressiveImageDistribution
from .pixel_output import params_per_channel

__all__ = ["PixelRNN"]


class PixelRNN(AutoregressiveImageDistribution):
    """The PixelRNN (van den Oord et al. 2016a) over images ``x: (C, H, W)`` in ``{0, ..., K-1}``:

    .. math:: p(x \\mid h) = \\prod_{i=1}^{H W} \\prod_{c=1}^{C}
              p(x_{i,c} \\mid x_{<i}, x_{i,<c}, h),

    the same factorisation, outputs, shapes, ``log_prob`` and sampling loop as
    :class:`~pgm.distributions.PixelCNN` (see there), with a network of recurrent layers:
    the Row LSTM (a triangular receptive field, computed row by row) or the Diagonal
    BiLSTM (the whole context in each layer, computed diagonal by diagonal).
    ``sample(cached=True)`` with a Row LSTM carries each layer's state from row to row and
    computes one pixel at a time; with a Diagonal BiLSTM, whose right-to-left pass has no
    such recursion, it reruns the network on the rows generated so far.

    :param network: e.g. from :meth:`make_network`; otherwise as for PixelCNN.

    Examples::

        net = PixelRNN.make_network((1, 8, 8), 2, layer="diagonal-bilstm")
        x = PixelRNN(net, (1, 8, 8), 2).sample((4,))   # (4, 1, 8, 8)

    References:
        A. van den Oord, N. Kalchbrenner, K. Kavukcuoglu. "Pixel Recurrent Neural Networks."
        ICML 2016.
    """

    @staticmethod
    def make_network(
        event_shape: tuple[int, int, int],
        num_levels: int,
        output: str = "auto",
        num_mixtures: int = 5,
        layer: str = "row-lstm",
        hidden_channels: int = 32,
        num_layers: int = 2,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        context_shape: tuple[int, ...] | None = None,
    ) -> AutoregressiveNetwork:
        """A PixelRNN network (``layer``: ``"row-lstm"`` or ``"diagonal-bilstm"``)."""
        channels = int(event_shape[0])
        out = channels * params_per_channel(output, num_levels, num_mixtures)
        return PixelRNNNetwork(
            channels,
            out,
            hidden_channels,
            num_layers,
            layer,
            kernel_size,
            first_kernel_size,
            context_shape,
        )
