"""The hierarchical VAE with two stochastic layers (Tomczak & Welling 2018, section 3.2, figure 2).

Generative model and variational posterior, each a chain of Pyro sample statements:

.. math:: p(x, z_1, z_2) = p(z_2)\\, p(z_1 \\mid z_2)\\, p(x \\mid z_1, z_2), \\qquad
          q(z_1, z_2 \\mid x) = q(z_2 \\mid x)\\, q(z_1 \\mid x, z_2).

The top prior p(z2) is any registered prior (the VampPrior uses q(z2 | u) at its pseudo-inputs),
p(z1 | z2) and q(z1 | x, z2) are diagonal Gaussians whose parameters come from networks, and
p(x | z1, z2) is any registered likelihood fed the code (z1, z2) (with ``likelihood = "pixelcnn"``
a conditional gated PixelCNN: the PixelHVAE). The posterior's order is the paper's: z2 first,
then z1 given x and z2.

References:
    J. M. Tomczak, M. Welling. "VAE with a VampPrior." AISTATS 2018.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from . import gaussian_scales
from .errors import PgmError
from .generative_model import GenerativeModel
from .nn.encoders import make_encoder
from .nn.gated_conv import TOWER_LAYERS, GatedConvEncoder
from .nn.mlp import make_mlp
from .parts import LikelihoodWithMean, describe, mean_of, variance_of
from .registry import MODELS
from .vae import VAE, draw

__all__ = [
    "ConditionalNormal",
    "HierarchicalVAE",
    "PerLayerLikelihood",
    "TwoLayerPosterior",
    "join_codes",
]


def join_codes(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """The code (z1, z2): ``(..., L1)``, ``(..., L2)`` -> ``(..., L1 + L2)``, leading dims broadcast
    (the particle dims of one may be missing from the other)."""
    batch = torch.broadcast_shapes(z1.shape[:-1], z2.shape[:-1])
    return torch.cat([z1.expand(*batch, -1), z2.expand(*batch, -1)], dim=-1)


class ConditionalNormal(nn.Module):
    """A diagonal Gaussian whose parameters are a network of its inputs:
    ``forward(*inputs) -> N(loc(h), diag sigma(h)^2)``, event ``(latent_dim,)``, with
    ``h = body(cat(tower_1(input_1), ..., tower_k(input_k)))`` (inputs' leading dims broadcast)
    and sigma = ``stddev(scale(h))``: the config's ``conditional_scale``
    (:data:`pgm.gaussian_scales.SCALE_MAPS`; softplus + 1e-4 by default, what every earlier run
    had; ``"clamped-log-variance"`` with the guide ``clamped-diagonal-normal`` is the authors'
    code, all three Gaussians clamped).

    The paper's p(z1 | z2) is one tower (two layers on z2); its q(z1 | x, z2) has a tower per input
    and a joint layer over both.

    :param towers: ``input_k (..., ·) -> (..., F_k)`` features.
    :param body: ``(..., sum F_k) -> (..., hidden_dim)``.
    :param stddev: the ``scale`` head's output -> sigma (default: softplus + 1e-4).
    """

    def __init__(
        self,
        towers: list[nn.Module],
        body: nn.Module,
        hidden_dim: int,
        latent_dim: int,
        stddev: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        super().__init__()
        self.towers = nn.ModuleList(towers)
        self.body = body
        self.loc = nn.Linear(hidden_dim, latent_dim)
        self.scale = nn.Linear(hidden_dim, latent_dim)
        self.stddev = gaussian_scales.softplus if stddev is None else stddev

    def forward(self, *inputs: torch.Tensor) -> dist.Distribution:
        if len(inputs) != len(self.towers):
            raise ValueError(f"inputs: expected {len(self.towers)} tensors; found {len(inputs)}")
        features = [tower(v) for tower, v in zip(self.towers, inputs, strict=True)]
        batch = torch.broadcast_shapes(*(f.shape[:-1] for f in features))
        h = self.body(torch.cat([f.expand(*batch, -1) for f in features], dim=-1))
        return dist.Normal(self.loc(h), self.stddev(self.scale(h))).to_event(1)


class PerLayerLikelihood(nn.Module):
    """p(x | z1, z2) that reads each stochastic layer through a dense layer of its own first
    (``decoder_input = "per-layer"``, the VampPrior authors' code):
    ``forward(code: (..., L1 + L2)) = likelihood(cat(tower_1(z1), tower_2(z2)))``.

    With 40 + 40 units and towers of 300 this is the authors' p(x | z1, z2): gated 40-300 on
    each layer, then the inner likelihood's decoder, gated 600-300-784. (``joint``, the default,
    is one decoder on (z1, z2): 80-300-300-784.)

    :param latent_dims: (L1, L2), how the code splits.
    :param towers: ``z_k (..., L_k) -> (..., F_k)``.
    :param likelihood: a likelihood with ``mean``, built for codes of ``sum F_k`` features.
    """

    def __init__(self, latent_dims: tuple[int, int], towers: list[nn.Module], likelihood):
        super().__init__()
        self.latent_dims = tuple(int(d) for d in latent_dims)
        self.towers = nn.ModuleList(towers)
        self.likelihood = likelihood

    def features(self, code: torch.Tensor) -> torch.Tensor:
        """``(..., L1 + L2) -> (..., F_1 + F_2)``: each layer's tower, concatenated."""
        if code.shape[-1] != sum(self.latent_dims):
            raise ValueError(
                f"code: expected a last dim of {sum(self.latent_dims)} (z1, z2); "
                f"found shape {tuple(code.shape)}"
            )
        parts = code.split(self.latent_dims, dim=-1)
        return torch.cat([t(z) for t, z in zip(self.towers, parts, strict=True)], dim=-1)

    def forward(self, code: torch.Tensor) -> dist.Distribution:
        return self.likelihood(self.features(code))

    def mean(self, code: torch.Tensor) -> torch.Tensor:
        """E[x | z1, z2], the inner likelihood's mean of the towers' features."""
        return self.likelihood.mean(self.features(code))

    def describe(self) -> str:
        return f"{describe(self.likelihood)}, reading a dense layer per stochastic layer"


class TwoLayerPosterior(nn.Module):
    """q(z1, z2 | x) = q(z2 | x) q(z1 | x, z2): ``top(x)`` and ``bottom(x, z2)`` give the two
    factors.

    ``forward(x)`` summarises it as one diagonal Gaussian over the code (z1, z2), ``(N, L1 + L2)``:
    q(z2 | x), and q(z1 | x, z2) at z2 = E_q[z2 | x]. Its mean is the code
    :meth:`HierarchicalVAE.encode` returns (exact for z2, a plug-in for z1, whose marginal
    q(z1 | x) is not Gaussian); diagnostics such as active units read it. The estimator and
    training never use this summary, only the two sample statements of
    :meth:`HierarchicalVAE.guide`.

    :param top: a registered guide built for z2 (``forward(x) -> q(z2 | x)``; a VampPrior on z2 is
        attached to it).
    :param bottom: ``forward(x, z2) -> q(z1 | x, z2)``.
    """

    def __init__(self, top: nn.Module, bottom: nn.Module):
        super().__init__()
        self.top = top
        self.bottom = bottom

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        q2 = self.top(x)
        z2 = mean_of(q2)
        q1 = self.bottom(x, z2)
        loc = join_codes(q1.mean, z2)
        scale = join_codes(q1.variance.sqrt(), variance_of(q2, z2).sqrt())
        return dist.Normal(loc, scale).to_event(1)


class HierarchicalVAE(VAE):
    """The two-layer VAE as a Pyro model/guide pair (sites in sampling order, shapes for a batch
    ``x: (N, *event_shape)``; vectorised particles add leading dims to every latent)::

        def model(x):
            with pyro.plate("data", N):
                z2 = pyro.sample("z2", prior())                 # (N, L2)
                z1 = pyro.sample("z1", conditional_prior(z2))   # (N, L1)
                pyro.sample("x", likelihood(cat(z1, z2)), obs=x)

        def guide(x):
            with pyro.plate("data", N):
                z2 = pyro.sample("z2", posterior.top(x))        # q(z2 | x)
                pyro.sample("z1", posterior.bottom(x, z2))      # q(z1 | x, z2)

    The code of an image (``encode``; what ``decode`` and the likelihood take) is the pair
    (z1, z2), ``(N, L1 + L2)``, the mean of :class:`TwoLayerPosterior`'s summary
    (E_q[z1 | x, z2 = E_q[z2 | x]], E_q[z2 | x]), so ``latent_dim`` here is L1 + L2 (the
    config's ``latent_dim`` is L1 and ``latent_dim_top`` is L2).

    :param prior: ``forward() -> p(z2)``, event ``(L2,)``.
    :param posterior: a :class:`TwoLayerPosterior`.
    :param conditional_prior: ``forward(z2) -> p(z1 | z2)``, event ``(L1,)``.
    :param likelihood: ``forward(code: (..., L1 + L2)) -> p(x | z1, z2)``.
    """

    def __init__(
        self,
        prior: nn.Module,
        posterior: TwoLayerPosterior,
        conditional_prior: nn.Module,
        likelihood: nn.Module,
        cfg: dict,
    ):
        super().__init__(prior, posterior, likelihood, cfg)  # attaches the prior to posterior.top
        self.conditional_prior = conditional_prior
        self.latent_dims = (int(cfg["latent_dim"]), int(cfg["latent_dim_top"]))
        self.latent_dim = sum(self.latent_dims)

    def model(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):
            z2 = pyro.sample("z2", self.prior())
            z1 = pyro.sample("z1", self.conditional_prior(z2))
            pyro.sample("x", self.likelihood(join_codes(z1, z2)), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):
            z2 = pyro.sample("z2", self.posterior.top(x))
            pyro.sample("z1", self.posterior.bottom(x, z2))

    @torch.no_grad()
    def sample(self, n: int, cached: bool = True) -> torch.Tensor:
        """Ancestral sampling: z2 ~ p(z2), z1 ~ p(z1 | z2), x ~ p(x | z1, z2);
        ``(n, *image_shape)``."""
        z2 = self.prior().sample((n,))
        z1 = self.conditional_prior(z2).sample()
        return draw(self.likelihood(join_codes(z1, z2)), cached)

    @property
    def prior_guide(self) -> nn.Module:
        """q(z2 | x), the guide over the prior's z2."""
        return self.posterior.top


#: the dense layers beside each encoder network: gated beside gated ones, else linear
_DENSE = {"gated-mlp": "gated-mlp", "gated-conv": "gated-mlp"}


def _level_config(cfg: dict, latent_dim: int) -> dict:
    """``cfg`` with ``latent_dim`` set, for a registered part built for one layer (or the code)."""
    part = copy.deepcopy(cfg)
    part["latent_dim"] = int(latent_dim)
    return part


def build_hierarchical_vae(cfg: dict) -> HierarchicalVAE:
    """The HVAE of a resolved config, with the paper's layers (Tomczak & Welling 2018, code of
    section 3.2), H the last encoder width (``hidden_dims[-1]``, else ``hidden_dim``):

    - q(z2 | x): the registered ``guide`` built for z2 (the encoder ``network``, all its layers);
      the two below map their scale heads to sigma by ``conditional_scale``;
    - q(z1 | x, z2): one encoder layer on x (for ``conv``: the convolutions and one dense layer;
      for ``gated-conv``: the authors' tower, five gated convolutions with 3x3 kernels), one
      dense layer of H on z2 (for ``gated-conv``: as wide as the x tower's features), one
      joint dense layer of H on both, then the Gaussian heads;
    - p(z1 | z2): two dense layers of H, then the heads;
    - p(z2): the registered ``prior`` built for z2 (``vamp``: q(z2 | u) at pseudo-inputs u);
    - p(x | z1, z2): the registered ``likelihood`` built for the code (z1, z2), so its decoder's
      first layer reads both (``decoder_input = "joint"``, the default); or, with
      ``"per-layer"`` (the authors' code), one dense layer of H on each of z1 and z2, then the
      likelihood built for their 2H features with the decoder's remaining layers
      (:class:`PerLayerLikelihood`; a likelihood with a closed-form mean, and two or more
      hidden layers).

    Dense layers are gated for ``network = "gated-mlp"`` and ``"gated-conv"``, else linear +
    ``activation``. ``gated-conv`` with ``decoder_input = "per-layer"`` is the authors'
    convHVAE (``models/convHVAE_2level.py``) layer for layer.
    """
    from .build import (
        build_guide,
        build_likelihood,
        build_prior,
        encoder_centred,
        encoder_hidden_dims,
    )

    l1, l2 = int(cfg["latent_dim"]), int(cfg["latent_dim_top"])
    dims = encoder_hidden_dims(cfg)
    width, activation = dims[-1], cfg.get("activation", "relu")
    dense = _DENSE.get(cfg["network"], "mlp")
    top = build_guide(_level_config(cfg, l2))
    if cfg["network"] == "gated-conv":
        # the authors' q(z1 | x, z2): its own gated convolutions (3x3 kernels) on x, 294
        # features for 28x28 images, and a gated layer of as many on z2
        x_tower = GatedConvEncoder(
            cfg["image_shape"],
            cfg["num_levels"],
            centred=encoder_centred(cfg),
            layers=TOWER_LAYERS,
        )
        z2_width = x_tower.out_features
    else:
        x_tower = make_encoder(
            cfg["network"],
            cfg["image_shape"],
            cfg["num_levels"],
            [width],
            activation=activation,
            centred=encoder_centred(cfg),
        )
        z2_width = width
    stddev = gaussian_scales.SCALE_MAPS[cfg.get("conditional_scale", "softplus")]
    bottom = ConditionalNormal(
        [x_tower, make_mlp(dense, l2, [z2_width], activation=activation)],
        make_mlp(dense, x_tower.out_features + z2_width, [width], activation=activation),
        width,
        l1,
        stddev,
    )
    conditional_prior = ConditionalNormal(
        [make_mlp(dense, l2, [width, width], activation=activation)],
        nn.Identity(),
        width,
        l1,
        stddev,
    )
    if cfg.get("decoder_input", "joint") == "joint":
        likelihood = build_likelihood(_level_config(cfg, l1 + l2))
    else:
        likelihood = _per_layer_likelihood(cfg, (l1, l2), dims, dense, activation)
    return HierarchicalVAE(
        build_prior(_level_config(cfg, l2)),
        TwoLayerPosterior(top, bottom),
        conditional_prior,
        likelihood,
        cfg,
    )


def _per_layer_likelihood(
    cfg: dict, latent_dims: tuple[int, int], dims: list[int], dense: str, activation: str
) -> PerLayerLikelihood:
    """``decoder_input = "per-layer"``: a dense tower of ``dims[-1]`` (the decoder's first width)
    on each stochastic layer, then the likelihood built for both towers' features with the
    decoder's other widths."""
    from .build import build_likelihood

    if len(dims) < 2:
        raise PgmError(
            "decoder_input: 'per-layer' expects two or more hidden layers (one per stochastic "
            f"layer, then the decoder's); found hidden widths {dims}"
        )
    width = dims[-1]
    part = _level_config(cfg, 2 * width)
    part["hidden_dims"] = list(dims[:-1])  # the encoder's order: the decoder reads them reversed
    inner = build_likelihood(part)
    if not isinstance(inner, LikelihoodWithMean):
        raise PgmError(
            "decoder_input: 'per-layer' expects a likelihood with a closed-form mean (a dense "
            f"decoder: bernoulli, categorical, ...); found likelihood {cfg['likelihood']!r}"
        )
    towers = [make_mlp(dense, d, [width], activation=activation) for d in latent_dims]
    return PerLayerLikelihood(latent_dims, towers, inner)


@MODELS.register("hvae", "two stochastic layers: p(z2) p(z1|z2) p(x|z1,z2), q(z2|x) q(z1|x,z2)")
def _hvae(cfg: dict) -> GenerativeModel:
    return build_hierarchical_vae(cfg)
