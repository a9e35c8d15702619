"""Image completion: sample the unobserved pixels of an image given the observed ones.

The completion figure of the PixelRNN paper (van den Oord et al. 2016a, figure 1): the
bottom half of each image is occluded and sampled from the model given the top half.
For an autoregressive model this is its own sampling loop, in raster order, with the
observed values clamped as the loop reaches them; each unobserved value is then drawn from
p(x_i | x_<i). That is the exact conditional p(x_unobserved | x_observed) whenever every
observed value precedes every unobserved one in raster order (of :data:`MASKS`, only
``"top-half"``); for the others (``"bottom-half"``, ``"left-half"``, ``"right-half"``,
``"center"``) that loop is a proposal that ignores the observed values still to come, and
:func:`complete_sir` corrects it by sampling importance resampling: each of M candidates is
weighted by the probability of the observed values under the model, p(x_o,later | x_<),
which is exactly p(x)/q(x_missing); the resampled completions follow the true conditional
p(x_missing | x_observed) as M grows, and the effective sample size of the weights says how
close M candidates get (M when every observed value comes first: exact).
"""

from __future__ import annotations

import torch

from .errors import PgmError, PgmTypeError
from .generative_model import GenerativeModel
from .parts import AutoregressiveImage, FullyObservedAutoregressive

__all__ = ["MASKS", "complete", "complete_sir", "observed_mask"]

MASKS = ("top-half", "bottom-half", "left-half", "right-half", "center")


def observed_mask(kind: str, shape: tuple[int, ...]) -> torch.Tensor:
    """A boolean mask ``(C, H, W)``, True where the pixel is observed.

    :param kind: ``"top-half"`` (rows ``< H // 2`` observed, the PixelRNN figure),
        ``"bottom-half"``, ``"left-half"``, ``"right-half"``, or ``"center"`` (everything but
        the central square of half the height and width, which is to be completed).
    :param shape: ``(C, H, W)``.
    """
    if kind not in MASKS:
        raise PgmError(f"kind: expected one of {', '.join(MASKS)}; found {kind!r}")
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise PgmError(f"shape: expected (C, H, W) of positive integers; found {tuple(shape)}")
    c, h, w = shape
    rows = torch.arange(h)[:, None].expand(h, w)
    cols = torch.arange(w)[None, :].expand(h, w)
    if kind == "top-half":
        mask = rows < h // 2
    elif kind == "bottom-half":
        mask = rows >= h // 2
    elif kind == "left-half":
        mask = cols < w // 2
    elif kind == "right-half":
        mask = cols >= w // 2
    else:
        top, left = h // 4, w // 4
        inside = (rows >= top) & (rows < top + h // 2) & (cols >= left) & (cols < left + w // 2)
        mask = ~inside
    return mask.unsqueeze(0).expand(c, h, w).clone()


@torch.no_grad()
def complete(
    model: GenerativeModel, x: torch.Tensor, observed_mask: torch.Tensor, cached: bool = True
) -> torch.Tensor:
    """Complete ``x: (N, C, H, W)`` (levels ``{0..K-1}``): its values where ``observed_mask`` is
    True, samples from the model elsewhere. Returns ``(N, C, H, W)``.

    :param model: a :class:`pgm.parts.FullyObservedAutoregressive` model
        (``pgm.build({"model": "pixelcnn", ...})`` and the like: ``distribution()`` returns an
        :class:`pgm.parts.AutoregressiveImage`).
    :param observed_mask: boolean, ``(C, H, W)``, ``(H, W)`` (every channel alike) or
        ``(N, C, H, W)``; e.g. :func:`observed_mask`.
    :param cached: the fast sampler (True) or the naive loop.
    """
    if not isinstance(model, FullyObservedAutoregressive):
        raise PgmTypeError(
            f"model: expected a fully observed autoregressive model (with distribution()); "
            f"found {type(model).__name__}"
        )
    model.check_data(x)
    mask = torch.as_tensor(observed_mask, dtype=torch.bool, device=x.device)
    if mask.dim() == 2:
        mask = mask.unsqueeze(0)
    try:
        mask = mask.expand(x.shape)
    except RuntimeError:
        raise PgmError(
            f"observed_mask: expected a shape broadcastable to {tuple(x.shape)} ((C, H, W), (H, W) "
            f"or (N, C, H, W)); found {tuple(observed_mask.shape)}"
        ) from None
    d = model.distribution()
    if not isinstance(d, AutoregressiveImage):
        raise PgmTypeError(
            f"model: expected distribution() to be an autoregressive image distribution (with "
            f"complete()); found {type(d).__name__}"
        )
    return d.expand(x.shape[:1]).complete(x, mask, cached=cached)


@torch.no_grad()
def complete_sir(
    model: GenerativeModel,
    x: torch.Tensor,
    observed_mask: torch.Tensor,
    num_samples: int,
    num_candidates: int = 100,
    cached: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Completions of ``x: (N, C, H, W)`` from p(x_missing | x_observed) for ANY mask, by
    sampling importance resampling: ``num_candidates`` raster completions per image
    (:func:`complete`, the proposal q), weighted by w = p(x) / q = the product of
    p(x_i | x_<i) over the observed pixel channels, and ``num_samples`` of them drawn with
    probabilities proportional to w. Returns ``(N, num_samples, C, H, W)`` and the effective
    sample size ``(N,)`` of the weights, (sum w)^2 / sum w^2, between 1 (one candidate carries
    all the weight: the completions repeat it) and ``num_candidates`` (exact)."""
    n = x.shape[0]
    mask = torch.as_tensor(observed_mask, dtype=torch.bool, device=x.device)
    mask = mask.unsqueeze(0) if mask.dim() == 2 else mask
    try:
        flat_mask = mask.expand(x.shape).repeat_interleave(num_candidates, 0)
    except RuntimeError:
        raise PgmError(
            f"observed_mask: expected a shape broadcastable to {tuple(x.shape)}; found "
            f"{tuple(observed_mask.shape)}"
        ) from None
    candidates = complete(model, x.repeat_interleave(num_candidates, 0), flat_mask, cached)
    pixels = model.distribution().pixel_log_prob(candidates.to(x.dtype))
    log_w = (pixels * flat_mask).sum((-3, -2, -1)).reshape(n, num_candidates).double()
    weights = torch.softmax(log_w, -1)
    ess = 1.0 / (weights**2).sum(-1)
    picks = torch.multinomial(weights, num_samples, replacement=True)
    chosen = candidates.reshape(n, num_candidates, *x.shape[1:])
    index = picks.reshape(n, num_samples, *([1] * (x.dim() - 1))).expand(-1, -1, *x.shape[1:])
    return torch.gather(chosen, 1, index), ess.float()
