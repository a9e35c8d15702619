"""What PixelCNN and PixelRNN share: an image distribution factorised over pixels in raster order.

.. math:: p(x \\mid h) = \\prod_{i=1}^{H W} \\prod_{c=1}^{C} p(x_{i,c} \\mid x_{<i}, x_{i,<c}, h)

A network maps the image (and a context h) to every factor's parameters in one parallel
pass, which gives ``log_prob``; ``sample`` generates one pixel channel at a time.
"""

from __future__ import annotations

import math

import torch
from pyro.distributions import TorchDistribution
from torch.distributions import constraints

from ..errors import PgmError, PgmTypeError
from ..nn.autoregressive_network import AutoregressiveNetwork
from ..nn.encoders import scale_pixels
from .pixel_output import (
    draw_levels,
    output_level_log_probs,
    output_log_prob,
    params_per_channel,
    resolve_output,
)

__all__ = ["AutoregressiveImageDistribution"]


class AutoregressiveImageDistribution(TorchDistribution):
    """An autoregressive distribution over images ``(C, H, W)`` with values in ``{0, ..., K-1}``.

    See :class:`pgm.distributions.PixelCNN` for the parameters; this base holds the shapes,
    validation, ``log_prob`` and both samplers.
    """

    has_rsample = False

    def __init__(
        self,
        network: AutoregressiveNetwork,
        event_shape: tuple[int, int, int],
        num_levels: int,
        context: torch.Tensor | None = None,
        output: str = "auto",
        validate_args: bool | None = None,
    ) -> None:
        event_shape = tuple(int(s) for s in event_shape)
        if len(event_shape) != 3 or min(event_shape) < 1:
            raise PgmError(
                f"event_shape: expected (C, H, W) of positive integers; found {event_shape}"
            )
        if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 2:
            raise PgmError(f"num_levels: expected an integer >= 2; found {num_levels!r}")
        if not isinstance(network, AutoregressiveNetwork):
            raise PgmTypeError(
                "network: expected an AutoregressiveNetwork (pgm.nn); "
                f"found {type(network).__name__}"
            )
        channels = event_shape[0]
        if network.image_channels != channels:
            raise PgmError(
                f"network: expected image_channels = {channels} (event_shape {event_shape}); "
                f"found {network.image_channels}"
            )
        self.output = resolve_output(output, num_levels)
        per_channel, remainder = divmod(network.out_channels, channels)
        expected = params_per_channel(self.output, num_levels, max(per_channel // 3, 1))
        if remainder or per_channel != expected:
            raise PgmError(
                f"network: expected out_channels = C * P = {channels * expected} for output "
                f"{self.output!r} with {num_levels} levels; found {network.out_channels}"
                + (" (logistic needs P = 3M)" if self.output == "logistic" else "")
            )
        self.network = network
        self.num_levels = num_levels
        self.context = context
        context_shape = network.context_shape
        if context_shape is None:
            if context is not None:
                raise PgmError(
                    "context: the network is unconditional; "
                    f"found a context of shape {tuple(context.shape)}"
                )
            batch_shape = torch.Size()
        else:
            k = len(context_shape)
            if (
                not torch.is_tensor(context)
                or tuple(context.shape[context.dim() - k :]) != context_shape
            ):
                found = tuple(context.shape) if torch.is_tensor(context) else context
                raise PgmError(
                    f"context: expected shape (..., {', '.join(map(str, context_shape))}); "
                    f"found {found}"
                )
            batch_shape = context.shape[: context.dim() - k]
        super().__init__(batch_shape, torch.Size(event_shape), validate_args=validate_args)

    # --- declarations ------------------------------------------------------------------------

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        return {} if self.context is None else {"context": constraints.real}

    @constraints.dependent_property(is_discrete=True, event_dim=3)
    def support(self) -> constraints.Constraint:
        return constraints.independent(constraints.integer_interval(0, self.num_levels - 1), 3)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = torch.Size(batch_shape)
        new.network, new.num_levels, new.output = self.network, self.num_levels, self.output
        new.context = None
        if self.context is not None:
            new.context = self.context.expand(batch_shape + self.network.context_shape)
        super(AutoregressiveImageDistribution, new).__init__(
            batch_shape, self.event_shape, validate_args=False
        )
        new._validate_args = self._validate_args
        return new

    # --- validation --------------------------------------------------------------------------

    def _validate_sample(self, value: torch.Tensor) -> None:
        if not torch.is_tensor(value):
            raise PgmError(f"value: expected a torch.Tensor; found {type(value).__name__}")
        shape = tuple(self.event_shape)
        if value.dim() < 3 or tuple(value.shape[-3:]) != shape:
            raise PgmError(
                f"value: expected shape (..., {', '.join(map(str, shape))}); "
                f"found {tuple(value.shape)}"
            )
        try:
            torch.broadcast_shapes(value.shape[:-3], self.batch_shape)
        except RuntimeError:
            raise PgmError(
                "value: expected leading dims broadcastable with batch_shape "
                f"{tuple(self.batch_shape)}; found {tuple(value.shape[:-3])}"
            ) from None
        bad = (value < 0) | (value > self.num_levels - 1) | (value != torch.round(value))
        if bad.any():
            where = tuple(int(i) for i in bad.nonzero()[0])
            raise PgmError(
                f"value: expected integer values in {{0, ..., {self.num_levels - 1}}} "
                f"({self.num_levels} levels, the support); found {value[where].item()!r} "
                f"at index {where}"
            )

    # --- the network -------------------------------------------------------------------------

    def _network_input(self, x: torch.Tensor) -> torch.Tensor:
        """Levels ``{0, ..., K-1}`` -> [-1, 1], the scale the network sees (as an encoder's)."""
        return scale_pixels(x, self.num_levels)

    def _flat_context(self, leading: torch.Size) -> torch.Tensor | None:
        if self.context is None:
            return None
        shape = self.network.context_shape
        return self.context.expand(leading + shape).reshape((-1,) + shape)

    def _params(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """One network pass: ``x (N, C, H, W)`` -> parameters ``(N, C, H, W, P)``."""
        n, c, h, w = x.shape
        out = self.network(self._network_input(x), context)
        return out.reshape(n, c, -1, h, w).permute(0, 1, 3, 4, 2)

    # --- log_prob ----------------------------------------------------------------------------

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """log p(value), ONE parallel network pass for any leading dims:
        ``value (*S, C, H, W)`` -> ``broadcast(S, batch_shape)``."""
        if self._validate_args:
            self._validate_sample(value)
        leading = torch.broadcast_shapes(value.shape[:-3], self.batch_shape)
        if self.context is None:  # the batch dims repeat one distribution: score value's own dims
            own = value.shape[:-3]
            log_p = self._log_prob_flat(value.reshape((-1,) + self.event_shape), None)
            return log_p.reshape(own).expand(leading)
        flat = value.expand(leading + self.event_shape).reshape((-1,) + self.event_shape)
        return self._log_prob_flat(flat, self._flat_context(leading)).reshape(leading)

    def _log_prob_flat(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return self.pixel_log_prob(x, context).sum((-3, -2, -1))

    def pixel_log_prob(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_i | x_<i) of every pixel channel, one network pass: ``x (N, C, H, W)`` ->
        ``(N, C, H, W)`` (``context``: flat, one row per image, or None)."""
        params = self._params(x, context)
        return output_log_prob(self.output, params, x, self.num_levels)

    # --- sampling ----------------------------------------------------------------------------

    def sample(self, sample_shape: tuple[int, ...] = (), cached: bool = True) -> torch.Tensor:
        """Draw ``(*sample_shape, *batch_shape, C, H, W)`` pixel by pixel (see the class docstring).

        :param cached: True: the fast sampler (only what each new pixel changes); False: the
            naive loop, the whole network per pixel channel. Both draw the same uniforms in the
            same order, so under one seed they give the same images.
        """
        shape = torch.Size(sample_shape) + self.batch_shape
        return self._generate(shape, cached=cached)

    def complete(
        self, observed: torch.Tensor, observed_mask: torch.Tensor, cached: bool = True
    ) -> torch.Tensor:
        """Sample the unobserved pixel channels given the observed ones (image completion).

        ``observed (*batch_shape, C, H, W)`` or broadcastable to it, ``observed_mask``
        broadcastable to it, True where a value is given. The loop runs in raster order and
        clamps the observed values as it reaches them, so each unobserved value is drawn
        from p(x_i | x_<i): the exact conditional when every observed value precedes every
        unobserved one (e.g. the top half observed), the PixelRNN paper's completion.
        """
        if self._validate_args:
            self._validate_sample(observed)
        shape = torch.broadcast_shapes(observed.shape[:-3], self.batch_shape)
        full = shape + self.event_shape
        clamp = observed.expand(full).reshape((-1,) + self.event_shape)
        mask = observed_mask.to(torch.bool).expand(full).reshape((-1,) + self.event_shape)
        return self._generate(shape, cached=cached, clamp=(clamp, mask))

    @torch.no_grad()
    def _generate(
        self,
        shape: torch.Size,
        cached: bool,
        clamp: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        c, h, w = self.event_shape
        n = math.prod(shape)
        context = self._flat_context(shape)
        like = self._like()
        x = like.new_zeros(n, c, h, w)
        # every uniform up front, so both samplers consume the RNG identically
        uniforms = torch.rand(n, c, h, w, dtype=like.dtype, device=like.device)
        if cached:
            with self.network.stream(context, n, h, w, like) as step:
                self._loop(x, uniforms, lambda i, j: step(self._network_input(x), i, j), clamp)
        else:
            self._loop(
                x,
                uniforms,
                lambda i, j: self.network(self._network_input(x), context)[:, :, i, j],
                clamp,
            )
        return x.reshape(shape + self.event_shape)

    def _loop(self, x, uniforms, params_at, clamp) -> None:
        """The autoregressive loop, shared by both samplers::

        for i in rows, j in columns, c in channels:
            theta = network(x, h)[c, i, j]  # params_at(i, j): the naive or the cached pass
            x[c, i, j] = F^-1(u[c, i, j]; theta)  # inverse CDF of the K-level table
        """
        n, c, h, w = x.shape
        for i in range(h):
            for j in range(w):
                for ch in range(c):
                    params = params_at(i, j).reshape(n, c, -1)[:, ch]
                    table = output_level_log_probs(self.output, params, self.num_levels)
                    level = draw_levels(table, uniforms[:, ch, i, j])
                    if clamp is not None:
                        level = torch.where(
                            clamp[1][:, ch, i, j], clamp[0][:, ch, i, j].to(level.dtype), level
                        )
                    x[:, ch, i, j] = level

    def _like(self) -> torch.Tensor:
        """A tensor of the dtype and device to sample in: the network's (else the context's)."""
        for p in self.network.parameters():
            return p
        return self.context if self.context is not None else torch.zeros(())
