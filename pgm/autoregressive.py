"""Autoregressive models as Pyro programs: fully observed PixelCNN/PixelRNN, and the PixelVAE.

A fully observed model is one sample statement, ``pyro.sample("x", PixelCNN(...), obs=x)``
in ``pyro.plate("data", N)``, with an empty guide; its ``log p(x)`` is exact (the shared
estimator with K = 1). The conditional gated PixelCNN given z is a likelihood like any
other, so the PixelVAE (Gulrajani et al. 2017) is the VAE with that likelihood.
"""

from __future__ import annotations

import pyro
import torch
from torch import nn

from .build import decoder_hidden_dims
from .distributions.autoregressive_image import AutoregressiveImageDistribution
from .distributions.pixelcnn import PixelCNN
from .distributions.pixelrnn import PixelRNN
from .errors import PgmError
from .generative_model import GenerativeModel
from .keys import Key
from .nn.autoregressive_network import AutoregressiveNetwork
from .nn.decoders import make_decoder
from .registry import LIKELIHOODS, MODELS

__all__ = ["FullyObservedModel", "PixelCNNLikelihood", "output_from_config"]

# the per-pixel output each likelihood name of a config stands for
_OUTPUT_OF_LIKELIHOOD = {
    "bernoulli": "bernoulli",
    "categorical": "categorical",
    "discretized-logistic": "logistic",
    "pixelcnn": "auto",
    "auto": "auto",
}


def output_from_config(cfg: dict) -> str:
    """The per-pixel output (see :mod:`pgm.distributions.pixel_output`) of ``cfg["likelihood"]``."""
    likelihood = cfg.get("likelihood", "auto")
    if likelihood not in _OUTPUT_OF_LIKELIHOOD:
        raise PgmError(
            f"likelihood: autoregressive models take one of "
            f"{', '.join(sorted(_OUTPUT_OF_LIKELIHOOD))}; found {likelihood!r}"
        )
    return _OUTPUT_OF_LIKELIHOOD[likelihood]


def _check_images_config(cfg: dict, model: str) -> tuple[tuple[int, int, int], int]:
    shape, levels = tuple(cfg["image_shape"]), int(cfg["num_levels"])
    if len(shape) != 3:
        raise PgmError(f"image_shape: {model!r} expects [C, H, W]; found {list(shape)}")
    if levels < 2:
        raise PgmError(f"num_levels: {model!r} expects discrete images, K >= 2; found {levels}")
    return shape, levels  # type: ignore[return-value]


class FullyObservedModel(GenerativeModel):
    """``x ~ family(network)``, no latents:

    .. code-block:: python

        def model(x):
            with pyro.plate("data", N):
                pyro.sample("x", PixelCNN(network, (C, H, W), K), obs=x)

        def guide(x):
            pass

    :param family: :class:`~pgm.distributions.PixelCNN` or :class:`~pgm.distributions.PixelRNN`.
    :param network: its network, unconditional.
    :param cfg: the resolved config (``image_shape``, ``num_levels``, ...).
    :param output: the per-pixel output (``"auto"``, ``"bernoulli"``, ``"categorical"``,
        ``"logistic"``).
    """

    has_latents = False

    def __init__(
        self,
        family: type[AutoregressiveImageDistribution],
        network: AutoregressiveNetwork,
        cfg: dict,
        output: str = "auto",
    ) -> None:
        super().__init__(cfg["image_shape"], cfg["num_levels"], cfg)
        self.family = family
        self.network = network
        self.output = output
        self.distribution()  # fail now, not at the first batch, if the parts do not fit

    def distribution(self) -> AutoregressiveImageDistribution:
        """p(x): batch shape ``()``, event shape ``(C, H, W)``."""
        return self.family(self.network, self.event_shape, self.num_levels, output=self.output)

    def model(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", self.distribution(), obs=x)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) in nats, ``x: (N, C, H, W) -> (N,)``."""
        self.check_data(x)
        return self.distribution().log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, cached: bool = True) -> torch.Tensor:
        """``(n, C, H, W)`` by the autoregressive loop (``cached``: the fast sampler)."""
        return self.distribution().sample((n,), cached=cached)

    def describe(self) -> str:
        return _describe_network(self.network, self.config, self.output, self.num_levels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, family={self.family.__name__}, output={self.output!r}"


# the layer a network is made of, by the class of its first distinctive module
_LAYER_NAMES = (
    ("DiagonalBiLSTM", "Diagonal BiLSTM"),
    ("RowLSTM", "Row LSTM"),
    ("GatedPixelCNNNetwork", "gated masked-conv"),
    ("MaskedConv2d", "masked-conv"),
)


def _describe_network(network: nn.Module, cfg: dict, output: str, num_levels: int) -> str:
    """``4 masked-conv layers × 32 channels, categorical output (17 levels)``."""
    from .distributions.pixel_output import resolve_output

    classes = {type(m).__name__ for m in network.modules()}
    layer = next((text for cls, text in _LAYER_NAMES if cls in classes), type(network).__name__)
    out = resolve_output(output, num_levels)
    return (
        f"{cfg.get('num_layers', '?')} {layer} layers × "
        f"{cfg.get('hidden_channels', '?')} channels, "
        f"{out} output ({num_levels} levels)"
    )


def _fully_observed(cfg: dict, model: str, family, **network_options) -> FullyObservedModel:
    shape, levels = _check_images_config(cfg, model)
    output = output_from_config(cfg)
    network = family.make_network(
        shape,
        levels,
        output=output,
        num_mixtures=cfg["num_mixtures"],
        hidden_channels=cfg["hidden_channels"],
        num_layers=cfg["num_layers"],
        **network_options,
    )
    return FullyObservedModel(family, network, cfg, output)


@MODELS.register("pixelcnn", "PixelCNN: masked convolutions (van den Oord et al. 2016)")
def _pixelcnn(cfg: dict) -> GenerativeModel:
    return _fully_observed(cfg, "pixelcnn", PixelCNN, gated=False)


@MODELS.register("gated-pixelcnn", "gated PixelCNN: vertical/horizontal stacks, no blind spot")
def _gated_pixelcnn(cfg: dict) -> GenerativeModel:
    return _fully_observed(cfg, "gated-pixelcnn", PixelCNN, gated=True)


@MODELS.register("row-lstm", "PixelRNN with Row LSTM layers (van den Oord et al. 2016)")
def _row_lstm(cfg: dict) -> GenerativeModel:
    return _fully_observed(cfg, "row-lstm", PixelRNN, layer="row-lstm")


@MODELS.register(
    "diagonal-bilstm", "PixelRNN with Diagonal BiLSTM layers (van den Oord et al. 2016)"
)
def _diagonal_bilstm(cfg: dict) -> GenerativeModel:
    return _fully_observed(cfg, "diagonal-bilstm", PixelRNN, layer="diagonal-bilstm")


class PixelCNNLikelihood(nn.Module):
    """p(x | z): a gated PixelCNN conditioned on z, ``forward(z: (..., L)) -> PixelCNN`` with
    batch shape ``z.shape[:-1]`` and event shape ``(C, H, W)``.

    As in the PixelVAE (Gulrajani et al. 2017), z is first decoded to a feature map with the
    image's height and width (``cfg["network"]``'s decoder, ``context_channels`` maps per image
    channel), which conditions every gated layer through a 1×1 convolution (van den Oord et al.
    2016b, eq. 5); the PixelCNN then models the local detail the latent code leaves out.

    References:
        I. Gulrajani, K. Kumar, F. Ahmed, A. A. Taiga, F. Visin, D. Vazquez, A. Courville.
        "PixelVAE: A Latent Variable Model for Natural Images." ICLR 2017.
    """

    def __init__(self, cfg: dict, context_channels: int = 4) -> None:
        super().__init__()
        shape, levels = _check_images_config(cfg, "pixelcnn likelihood")
        self.event_shape, self.num_levels = shape, levels
        self._cfg = {k: cfg[k] for k in ("num_layers", "hidden_channels")}
        self.output = output_from_config(cfg)
        channels, height, width = shape
        self.decoder = make_decoder(
            cfg["network"],
            cfg["latent_dim"],
            decoder_hidden_dims(cfg),
            shape,
            context_channels,
            cfg.get("activation", "relu"),
        )
        self.context_shape = (channels * context_channels, height, width)
        self.network = PixelCNN.make_network(
            shape,
            levels,
            output=self.output,
            num_mixtures=cfg["num_mixtures"],
            gated=True,
            hidden_channels=cfg["hidden_channels"],
            num_layers=cfg["num_layers"],
            context_shape=self.context_shape,
        )

    def context(self, z: torch.Tensor) -> torch.Tensor:
        """The decoded feature map: ``(..., L) -> (..., C * context_channels, H, W)``."""
        features = self.decoder(z)  # (..., C, H, W, context_channels)
        features = features.movedim(-1, -3)  # (..., C, context_channels, H, W)
        return features.reshape(z.shape[:-1] + self.context_shape)

    def describe(self) -> str:
        decoder = "MLP" if type(self.decoder).__name__.startswith("MLP") else "conv"
        network = _describe_network(self.network, self._cfg, self.output, self.num_levels)
        return (
            f"conditional PixelCNN likelihood p(x|z) ({network}; "
            f"z enters as a {decoder}-decoded feature map)"
        )

    def forward(self, z: torch.Tensor) -> PixelCNN:
        return PixelCNN(
            self.network,
            self.event_shape,
            self.num_levels,
            context=self.context(z),
            output=self.output,
        )


@LIKELIHOODS.register(
    "pixelcnn",
    "gated PixelCNN conditioned on z (PixelVAE decoder)",
    keys=[
        Key("num_layers", int, 5, low=1, help="gated PixelCNN layers"),
        Key("hidden_channels", int, 32, low=1, help="channels of each layer"),
    ],
)
def _pixelcnn_likelihood(cfg: dict) -> nn.Module:
    return PixelCNNLikelihood(cfg)


@MODELS.register("pixelvae", "PixelVAE: a VAE whose likelihood is a conditional gated PixelCNN")
def _pixelvae(cfg: dict) -> GenerativeModel:
    from .build import build_guide, build_prior
    from .vae import VAE

    guide = build_guide(cfg)  # first, as in the VAE: the order weights are drawn in
    return VAE(build_prior(cfg), guide, PixelCNNLikelihood(cfg), cfg)
