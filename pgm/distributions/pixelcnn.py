"""The PixelCNN distribution: an autoregressive image likelihood from masked convolutions."""

from __future__ import annotations

from ..nn.autoregressive_network import AutoregressiveNetwork
from ..nn.gated_pixelcnn import GatedPixelCNNNetwork
from ..nn.pixelcnn import PixelCNNNetwork
from .autoregressive_image import AutoregressiveImageDistribution
from .pixel_output import params_per_channel

__all__ = ["PixelCNN"]


class PixelCNN(AutoregressiveImageDistribution):
    """The PixelCNN (van den Oord et al. 2016a, 2016b) over images ``x: (C, H, W)`` with
    values in ``{0, ..., K-1}`` (floats with integer values), given an optional context h:

    .. math:: p(x \\mid h) = \\prod_{i=1}^{H W} \\prod_{c=1}^{C}
              p(x_{i,c} \\mid x_{<i}, x_{i,<c}, h),

    pixels in raster order, channels R before G before B within a pixel. Each factor is a
    Bernoulli (K = 2), a K-way categorical, or a mixture of discretized logistics
    (``output``), with parameters from ``network``, whose masks make the parameters of
    factor (i, c) depend only on the values before it.

    ``log_prob`` is one parallel network pass over any leading dims (Pyro's particle plates
    add leading dims to the context). ``sample`` is the autoregressive loop::

        u = uniform(shape + (C, H, W))                 # drawn first, one per pixel channel
        x = zeros(shape + (C, H, W))
        for i in range(H):
            for j in range(W):
                for c in range(C):
                    theta = network(x, h)[..., c, :, i, j]  # cached: only what (i, j) changed
                    x[..., c, i, j] = inverse_cdf(theta, u[..., c, i, j])
        return x

    ``sample(cached=True)`` computes, per pixel, only the activations that pixel changes
    (Ramachandran et al. 2017; :mod:`pgm.nn.streaming`); ``cached=False`` runs the whole
    network each time. Both use the same uniforms in the same order, hence the same images.

    :param network: an :class:`~pgm.nn.AutoregressiveNetwork` with ``image_channels = C`` and
        ``out_channels = C * P`` (P = 1, K or 3M for bernoulli, categorical, logistic), e.g.
        from :meth:`make_network`.
    :param event_shape: ``(C, H, W)``.
    :param num_levels: K >= 2.
    :param context: ``(*batch_shape, *network.context_shape)`` or None; it sets the batch shape.
    :param output: ``"auto"`` (bernoulli for K = 2, else categorical), ``"bernoulli"``,
        ``"categorical"`` or ``"logistic"``.

    Examples::

        net = PixelCNN.make_network((1, 8, 8), num_levels=2)
        d = PixelCNN(net, (1, 8, 8), num_levels=2)
        x = d.sample((16,))            # (16, 1, 8, 8) in {0, 1}
        d.log_prob(x)                  # (16,)

        net = PixelCNN.make_network((1, 8, 8), 17, context_shape=(10,))
        d = PixelCNN(net, (1, 8, 8), 17, context=z)   # z: (N, 10) -> batch_shape (N,)
        pyro.sample("x", d, obs=x)

    References:
        A. van den Oord, N. Kalchbrenner, K. Kavukcuoglu. "Pixel Recurrent Neural Networks."
        ICML 2016.
        A. van den Oord, N. Kalchbrenner, O. Vinyals, L. Espeholt, A. Graves, K. Kavukcuoglu.
        "Conditional Image Generation with PixelCNN Decoders." NeurIPS 2016.
        P. Ramachandran et al. "Fast Generation for Convolutional Autoregressive Models."
        ICLR workshop 2017.
        TensorFlow Probability, ``tfp.distributions.PixelCNN`` (the layout of this class).
    """

    @staticmethod
    def make_network(
        event_shape: tuple[int, int, int],
        num_levels: int,
        output: str = "auto",
        num_mixtures: int = 5,
        gated: bool = True,
        hidden_channels: int = 32,
        num_layers: int = 5,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        context_shape: tuple[int, ...] | None = None,
    ) -> AutoregressiveNetwork:
        """A gated (default) or plain PixelCNN network sized for ``event_shape`` and ``output``."""
        channels = int(event_shape[0])
        out = channels * params_per_channel(output, num_levels, num_mixtures)
        network = GatedPixelCNNNetwork if gated else PixelCNNNetwork
        return network(
            channels,
            out,
            hidden_channels,
            num_layers,
            kernel_size,
            first_kernel_size,
            context_shape,
        )
