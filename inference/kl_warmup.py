"""KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): scale the latent sites by beta in
[0, 1]."""

from __future__ import annotations

from pyro.poutine.messenger import Messenger

from pgm.contract import OBSERVED_SITE

__all__ = ["KLWarmup", "kl_weight"]


class KLWarmup(Messenger):
    """Multiply the log-density of every unobserved site (in model and guide) by ``beta``, so
    the ELBO becomes E_q[log p(x|z)] − beta · KL(q || p). Applied around both model and guide,
    it works for any pair that keeps the contract; beta = 1 is the plain ELBO."""

    def __init__(self, beta: float):
        super().__init__()
        self.beta = float(beta)

    def _process_message(self, msg):
        if msg["type"] == "sample" and not msg["is_observed"] and msg["name"] != OBSERVED_SITE:
            msg["scale"] = self.beta * msg["scale"]


def kl_weight(epoch: int, warmup_epochs: int) -> float:
    """Linear warm-up over epochs: beta = min(1, (epoch + 1) / warmup_epochs) for the 0-based
    ``epoch``, held for the whole epoch — 1/100, 2/100, ..., 1 with 100 warm-up epochs, as in
    Tomczak & Welling (2018), Sec. 5 (beta = epoch / warmup with epochs counted from 1)."""
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, (epoch + 1) / warmup_epochs)
