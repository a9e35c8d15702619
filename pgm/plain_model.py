"""A hand-written Pyro ``model(x)``/``guide(x)`` pair and its ``nn.Module``, as a model of the
suite."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from pyro import poutine
from torch import nn

from .contract import OBSERVED_SITE, latent_sites
from .errors import PgmError, PgmTypeError
from .generative_model import GenerativeModel
from .registry import MODELS

__all__ = ["MODEL_KEYS", "PlainModel", "SamplingUnavailable", "plain_model", "register_model"]

#: Extra config keys (with defaults) that a registered model accepts, by model name.
MODEL_KEYS: dict[str, dict[str, Any]] = {}


class SamplingUnavailable(PgmError, NotImplementedError):
    """A model that gives no ``sample(n)``: figures leave its samples out, ``pgm sample``
    refuses it in one line."""


class PlainModel(GenerativeModel):
    """Pyro callables ``model(x)`` and ``guide(x)`` (``None``: fully observed) over
    ``x: (N, *image_shape)`` with values in ``{0, ..., K-1}``, and the ``nn.Module`` holding
    their parameters (trained, checkpointed and loaded as ``self.network``).

    The pair keeps the contract of DESIGN.md (see :mod:`pgm.contract`). Optional capabilities:

    - ``sample(n) -> (n, *image_shape)``: by default the model is run with its observation
      unconditioned (``poutine.uncondition``) on a batch of ``n`` placeholder images, so
      ``x ~ p(x)`` is drawn ancestrally; that is right whenever the model uses ``x`` only as
      the value observed at ``"x"`` (and for its batch size). Pass ``sample=callable`` to
      draw otherwise, or ``sample=False`` for a model that cannot sample.
    - ``encode(x) -> (N, L)`` and ``decode(z) -> (N, *image_shape)``: when given, the
      comparison adds reconstructions, traversals and the linear probe of the codes.
    """

    def __init__(
        self,
        model: Callable,
        guide: Callable | None,
        network: nn.Module,
        config: dict,
        *,
        sample: Callable | bool | None = None,
        encode: Callable | None = None,
        decode: Callable | None = None,
    ):
        for name, value in (
            ("model", model),
            ("guide", guide),
            ("sample", sample),
            ("encode", encode),
            ("decode", decode),
        ):
            if value is not None and not isinstance(value, bool) and not callable(value):
                raise PgmTypeError(f"{name}: expected a callable; found {type(value).__name__}")
        if not callable(model):
            raise PgmTypeError(
                f"model: expected a Pyro callable model(x); found {type(model).__name__}"
            )
        if not isinstance(network, nn.Module):
            raise PgmTypeError(
                "module: expected the nn.Module holding the pair's parameters; "
                f"found {type(network).__name__}"
            )
        for key in ("image_shape", "num_levels"):
            if config.get(key) is None:
                raise PgmError(
                    f"{key}: required for a plain model (the data's shape and levels); "
                    "found nothing"
                )
        super().__init__(config["image_shape"], config["num_levels"], config)
        self.network = network
        self._model, self._guide, self._sample = model, guide, sample
        if encode is not None:
            self.encode = encode
        if decode is not None:
            self.decode = decode
        if encode is not None and decode is not None:
            self.reconstruct = lambda x: decode(encode(x))
        self._latent_dim: int | None = None

    def model(self, x: torch.Tensor) -> None:
        return self._model(x)

    def guide(self, x: torch.Tensor) -> None:
        if self._guide is not None:
            return self._guide(x)

    @property
    def has_latents(self) -> bool:  # type: ignore[override]
        return self.latent_dim > 0

    @property
    def latent_dim(self) -> int:
        """Latent values per image, read once from a trace of the guide (0: fully observed)."""
        if self._latent_dim is None:
            if self._guide is None:
                self._latent_dim = 0
            else:
                x = torch.zeros(2, *self.event_shape, device=self.device)
                with torch.no_grad(), torch.random.fork_rng():
                    trace = poutine.trace(self._guide).get_trace(x)
                sites = latent_sites(trace)
                self._latent_dim = sum(trace.nodes[s]["value"].numel() // 2 for s in sites)
        return self._latent_dim

    @property
    def can_sample(self) -> bool:
        return self._sample is not False

    @torch.no_grad()
    def sample(self, n: int, cached: bool = True) -> torch.Tensor:
        """``n`` draws x ~ p(x), ``(n, *image_shape)`` (``cached`` is for autoregressive models)."""
        if self._sample is False:
            raise SamplingUnavailable(
                f"model {self.config.get('model', 'plain')!r}: gives no sample(n) "
                "(built with sample=False)"
            )
        if callable(self._sample) and not isinstance(self._sample, bool):
            return self._sample(n)
        placeholder = torch.zeros(n, *self.event_shape, device=self.device)
        try:
            trace = poutine.trace(poutine.uncondition(self._model)).get_trace(placeholder)
            value = trace.nodes[OBSERVED_SITE]["value"]
        except (RuntimeError, ValueError, KeyError) as err:
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise SamplingUnavailable(
                f"model {self.config.get('model', 'plain')!r}: cannot sample by running the model "
                f"with x unobserved ({first}); give plain_model(..., sample=fn)"
            ) from None
        expected = (n, *self.event_shape)
        if tuple(value.shape) != expected:
            raise SamplingUnavailable(
                f"model {self.config.get('model', 'plain')!r}: expected the unobserved site "
                f"'x' to give {expected}; found {tuple(value.shape)} "
                "(give plain_model(..., sample=fn))"
            )
        return value


def plain_model(
    model: Callable | nn.Module,
    guide: Callable | None = None,
    module: nn.Module | None = None,
    config: dict | None = None,
    *,
    image_shape: tuple[int, ...] | list[int] | None = None,
    num_levels: int | None = None,
    sample: Callable | bool | None = None,
    encode: Callable | None = None,
    decode: Callable | None = None,
) -> PlainModel:
    """Wrap a plain Pyro pair for training and evaluation, e.g.

    ``plain_model(model, guide, net, image_shape=[1, 8, 8], num_levels=17)``, or, for an
    ``nn.Module`` with ``model``/``guide`` methods (as in Pyro's VAE tutorial),
    ``plain_model(vae, image_shape=..., num_levels=...)``; its ``sample``, ``encode`` and
    ``decode`` methods, when it has them, are used too. Inside a factory registered with
    :func:`register_model`, ``config`` (the resolved config) supplies the shape and levels.
    """
    if module is None and isinstance(model, nn.Module) and callable(getattr(model, "model", None)):
        net = model
        model, guide = net.model, guide or getattr(net, "guide", None)
        sample = sample if sample is not None else getattr(net, "sample", None)
        encode = encode or getattr(net, "encode", None)
        decode = decode or getattr(net, "decode", None)
        module = net
    if module is None:
        module = nn.Module()  # a pair without parameters (e.g. a fixed reference model)
    cfg = dict(config or {})
    if image_shape is not None:
        cfg["image_shape"] = list(image_shape)
    if num_levels is not None:
        cfg["num_levels"] = num_levels
    return PlainModel(model, guide, module, cfg, sample=sample, encode=encode, decode=decode)


def _as_model(result: Any, cfg: dict, name: str) -> GenerativeModel:
    if isinstance(result, GenerativeModel):
        return result
    if isinstance(result, tuple) and len(result) == 3:
        return plain_model(*result, config=cfg)
    if isinstance(result, nn.Module) and callable(getattr(result, "model", None)):
        return plain_model(result, config=cfg)
    raise PgmTypeError(
        f"model {name!r}: expected its factory to return a (model, guide, module) triple, an "
        "nn.Module with model and guide methods, or a pgm.GenerativeModel; found "
        f"{type(result).__name__}"
    )


def register_model(
    name: str, doc: str | None = None, config: dict[str, Any] | None = None
) -> Callable:
    """Register a model built from plain Pyro: the factory gets the resolved config (``dict``:
    ``image_shape``, ``num_levels``, ``latent_dim``, ``hidden_dim``, ... and the keys of
    ``config``, this model's own settings with their defaults) and returns
    ``(model, guide, module)``, an ``nn.Module`` with ``model``/``guide`` methods, or a
    :class:`~pgm.GenerativeModel`::

        @pgm.register_model("laplace-vae", "VAE with a Laplace prior", config={"scale": 1.0})
        def laplace_vae(cfg):
            net = Net(cfg["latent_dim"])
            return net.model, net.guide, net
    """
    extra = dict(config or {})

    def decorator(factory: Callable[[dict], Any]) -> Callable[[dict], GenerativeModel]:
        @functools.wraps(factory)
        def build(cfg: dict) -> GenerativeModel:
            return _as_model(factory(cfg), cfg, name)

        MODELS.register(name, doc or (factory.__doc__ or "").strip().split("\n")[0])(build)
        MODEL_KEYS[name] = extra
        return factory

    return decorator
