"""The ELBO's two parts on a batch, for logging: the rate, E_q[log q(z|x) − log p(z)] (the KL
term), and the distortion, −E_q[log p(x|z)], per image in nats; rate + distortion is the
negative ELBO (Alemi et al. 2018, "Fixing a Broken ELBO"). One posterior draw per image, with
fixed noise from a forked RNG, so logging never shifts training's random stream."""

from __future__ import annotations

import torch

from pgm.contract import OBSERVED_SITE, latent_sites, trace_pair

__all__ = ["rate_distortion"]


@torch.no_grad()
def rate_distortion(model, x: torch.Tensor, seed: int) -> dict[str, float] | None:
    """``{"rate": ..., "distortion": ...}`` of ``model`` (a :class:`pgm.GenerativeModel`) on
    the batch ``x``, per image; None for a model without latent sites (its distortion would be
    its whole negative log-likelihood, which the losses already show)."""
    was_training = model.training
    model.eval()
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            model_trace, guide_trace = trace_pair(model.model, model.guide, x)
            latents = latent_sites(guide_trace)
            if not latents:
                return None
            model_trace.compute_log_prob()
            guide_trace.compute_log_prob()
            n = x.shape[0]
            rate = sum(
                float(guide_trace.nodes[name]["log_prob"].sum())
                - float(model_trace.nodes[name]["log_prob"].sum())
                for name in latents
            )
            distortion = -float(model_trace.nodes[OBSERVED_SITE]["log_prob"].sum())
    finally:
        model.train(was_training)
    return {"rate": rate / n, "distortion": distortion / n}
