"""The per-model row of a comparison's ``results.json`` (one run is evaluated by
:mod:`.evaluate_command`)."""

from __future__ import annotations

from .log_likelihood import Estimate, bits_per_dim

__all__ = ["summarise"]


def summarise(name: str, cfg: dict, est: Estimate, num_dims: int, has_latents: bool) -> dict:
    """The per-model row of ``results.json``: mean nats per image, bits/dim, the ELBO."""
    ll = est.log_likelihood.double()
    row = {
        "model": name,
        "architecture": cfg["model"],
        "log_likelihood_nats": float(ll.mean()),
        "bits_per_dim": float(bits_per_dim(ll.mean(), num_dims)),
        "num_dims": num_dims,
        "num_particles": est.num_particles,
        "num_images": int(ll.numel()),
        "elbo_nats": float(est.elbo.double().mean()) if has_latents else None,
    }
    return row
