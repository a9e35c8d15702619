"""Priors p(z) (:class:`pgm.parts.Prior`): ``forward() -> distribution`` over z, batch shape ``()``,
event shape ``(latent_dim,)``; each registered factory takes the resolved config alone."""

from __future__ import annotations

import math

import pyro.distributions as dist
import pyro.distributions.transforms as T
import torch
import torch.nn.functional as F
from torch import nn

from .distributions.diagonal_normal_mixture import DiagonalNormalMixture
from .errors import PgmError, PgmTypeError
from .keys import Key
from .parts import GaussianGuide
from .registry import PRIORS
from .validation import check_choice

COMPONENTS = Key("num_components", int, 10, low=1, help="mixture components / pseudo-inputs M")
#: how a VampPrior holds its pseudo-inputs (:class:`VampPrior`)
PSEUDO_INPUTS = ("sigmoid", "hardtanh")

__all__ = ["DiagonalNormalPrior", "FlowPrior", "MixturePrior", "StandardNormalPrior", "VampPrior"]


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I)."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.register_buffer("loc", torch.zeros(latent_dim))
        self.register_buffer("scale", torch.ones(latent_dim))

    def forward(self) -> dist.Distribution:
        return dist.Normal(self.loc, self.scale).to_event(1)

    def describe(self) -> str:
        return "N(0, I) prior"


class DiagonalNormalPrior(nn.Module):
    """p(z) = N(mu, diag sigma^2) with learned mu and sigma."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(latent_dim))
        self.raw_scale = nn.Parameter(torch.full((latent_dim,), math.log(math.e - 1)))

    def forward(self) -> dist.Distribution:
        return dist.Normal(self.loc, F.softplus(self.raw_scale)).to_event(1)

    def describe(self) -> str:
        return "learned diagonal-Gaussian prior"


class MixturePrior(nn.Module):
    """p(z) = sum_m pi_m N(z; mu_m, diag sigma_m^2), every part learned."""

    def __init__(self, latent_dim: int, num_components: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_components))
        self.locs = nn.Parameter(torch.randn(num_components, latent_dim))
        self.raw_scales = nn.Parameter(torch.zeros(num_components, latent_dim))

    def forward(self) -> dist.Distribution:
        components = dist.Normal(self.locs, F.softplus(self.raw_scales) + 1e-4).to_event(1)
        return dist.MixtureSameFamily(dist.Categorical(logits=self.logits), components)

    def describe(self) -> str:
        return f"mixture-of-{self.logits.shape[0]}-Gaussians prior"


class VampPrior(nn.Module):
    """The VampPrior (Tomczak & Welling 2018): p(z) = (1/M) sum_m q(z | u_m), the guide's own
    posterior at M learned pseudo-inputs u_m. Components use the guide's diagonal Gaussian
    (:meth:`pgm.parts.GaussianGuide.gaussian`; for a flow guide, its base), so the prior's density
    stays one parallel pass.

    It is a :class:`pgm.parts.PriorNeedsGuide`: the model owning both calls :meth:`attach` once;
    the prior keeps the guide's ``gaussian`` method, not the guide, so the guide's weights are
    saved once, under the model's guide.

    :param event_shape: the data's shape; pseudo-inputs are ``(M, *event_shape)``.
    :param num_levels: K; pseudo-inputs lie in the data's range [0, K-1].
    :param num_components: M.
    :param pseudo_inputs: how they are held. ``"sigmoid"`` (the default): as logits squashed
        into [0, K-1], drawn N(0, 0.5^2), so they start grey with pixel noise. ``"hardtanh"``: as
        pixel values clipped to [0, K-1], drawn N(0.05, 0.01^2) x (K-1), so they start near
        black; this is the VampPrior authors' code for static MNIST
        (github.com/jmtomczak/vae_vampprior, ``models/Model.py`` and ``utils/load_data.py``). A
        pixel clipped at 0 or K-1 gets no gradient, and stays clipped.
    """

    def __init__(
        self,
        event_shape: tuple[int, ...],
        num_levels: int,
        num_components: int,
        pseudo_inputs: str = "sigmoid",
    ):
        super().__init__()
        check_choice(pseudo_inputs, "pseudo_inputs", PSEUDO_INPUTS)
        self.num_levels = num_levels
        self.squash = pseudo_inputs
        shape = (num_components, *event_shape)
        if pseudo_inputs == "sigmoid":
            self.pseudo_inputs = nn.Parameter(0.5 * torch.randn(shape))
        else:
            self.pseudo_inputs = nn.Parameter((0.05 + 0.01 * torch.randn(shape)) * self._top)
        self._gaussian = None  # the guide's gaussian(x), set by attach

    @property
    def _top(self) -> int:
        """The data's top level, K - 1 (1 for real-valued data, K = 0)."""
        return max(self.num_levels - 1, 1)

    def images(self) -> torch.Tensor:
        """The pseudo-inputs u_m as images in the data's range [0, K-1], ``(M, *event_shape)``."""
        if self.squash == "sigmoid":
            return torch.sigmoid(self.pseudo_inputs) * self._top
        return F.hardtanh(self.pseudo_inputs, 0.0, float(self._top))

    def attach(self, guide: nn.Module) -> None:
        """Take q's diagonal Gaussian from ``guide`` (a :class:`pgm.parts.GaussianGuide`)."""
        if not isinstance(guide, GaussianGuide):
            renamed = " (pgm 0.1's base(x) is now gaussian(x))" if hasattr(guide, "base") else ""
            raise PgmTypeError(
                "prior 'vamp': expected a guide with gaussian(x), its diagonal Gaussian "
                f"(pgm.parts.GaussianGuide); found {type(guide).__name__} without it{renamed}"
            )
        self._gaussian = guide.gaussian

    def forward(self) -> dist.Distribution:
        if self._gaussian is None:
            raise PgmError("prior 'vamp': expected attach(guide) before use; found no guide")
        q = self._gaussian(self.images())  # N(mu(u), diag sigma(u)^2), batch (M,), event (L,)
        # the mixture's density is two matrix products: K importance samples x M components
        # never materialise a (K, N, M, L) tensor (pgm.distributions.diagonal_normal_mixture)
        return DiagonalNormalMixture(q.mean, q.stddev)

    def describe(self) -> str:
        return f"VampPrior ({self.pseudo_inputs.shape[0]} pseudo-inputs)"


class FlowPrior(nn.Module):
    """A normalising-flow prior: N(0, I) pushed through affine coupling layers (Dinh et al.
    2017) with reversals between them; both directions are parallel, so log p(z) is cheap."""

    def __init__(self, latent_dim: int, num_flows: int, hidden_dim: int):
        super().__init__()
        if latent_dim < 2:
            raise PgmError(f"latent_dim: prior 'flow' expects latent_dim >= 2; found {latent_dim}")
        self.register_buffer("loc", torch.zeros(latent_dim))
        self.register_buffer("scale", torch.ones(latent_dim))
        self.register_buffer("reverse", torch.arange(latent_dim - 1, -1, -1))
        self.couplings = nn.ModuleList(
            T.affine_coupling(latent_dim, hidden_dims=[hidden_dim]) for _ in range(num_flows)
        )

    def forward(self) -> dist.Distribution:
        transforms: list = []
        for coupling in self.couplings:
            transforms += [coupling, T.Permute(self.reverse)]
        return dist.TransformedDistribution(
            dist.Normal(self.loc, self.scale).to_event(1), transforms
        )

    def describe(self) -> str:
        return f"flow prior ({len(self.couplings)} affine couplings on N(0, I))"


@PRIORS.register("standard-normal", "N(0, I)")
def _standard(cfg: dict) -> nn.Module:
    return StandardNormalPrior(cfg["latent_dim"])


@PRIORS.register("diagonal-normal", "learned diagonal Gaussian")
def _diagonal(cfg: dict) -> nn.Module:
    return DiagonalNormalPrior(cfg["latent_dim"])


@PRIORS.register("mixture", "learned mixture of diagonal Gaussians", keys=[COMPONENTS])
def _mixture(cfg: dict) -> nn.Module:
    return MixturePrior(cfg["latent_dim"], cfg["num_components"])


@PRIORS.register(
    "vamp",
    "VampPrior: mixture of the guide at learned pseudo-inputs",
    keys=[
        COMPONENTS,
        Key(
            "pseudo_inputs",
            str,
            "sigmoid",
            help="sigmoid: logits, N(0, 0.5^2) init; hardtanh: clipped pixels, near-black init "
            "(the VampPrior authors' code)",
        ),
    ],
)
def _vamp(cfg: dict) -> nn.Module:
    return VampPrior(
        cfg["image_shape"],
        cfg["num_levels"],
        cfg["num_components"],
        cfg.get("pseudo_inputs", "sigmoid"),
    )


@PRIORS.register(
    "flow",
    "N(0, I) through affine coupling flows",
    keys=[
        Key("num_flows", int, 2, low=1, help="affine coupling layers"),
        Key("hidden_dim", int, 256, low=1, help="width of each coupling's hidden layer"),
    ],
)
def _flow(cfg: dict) -> nn.Module:
    return FlowPrior(cfg["latent_dim"], cfg["num_flows"], cfg["hidden_dim"])
