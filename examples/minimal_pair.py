"""The smallest model/guide pair that keeps pgm's contract, written in plain Pyro, scored by
the shared estimator against its exact log-likelihood, then trained by pgm's trainer.

    z ~ N(0, 1),   x | z ~ N(z, 1)   =>   p(x) = N(x; 0, 2) exactly,

and a Gaussian guide q(z | x) = N(a x, s^2) with learnable a and s (the exact posterior is
a = 1/2, s^2 = 1/2). Run ``python examples/minimal_pair.py``.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch
from torch import nn

import pgm


class GaussianPair(nn.Module):
    """The pair; the module holds the guide's parameters, so pgm trains and saves them."""

    def __init__(self, a: float = 0.3, s: float = 1.0):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))
        self.log_s = nn.Parameter(torch.tensor(math.log(s)))

    def model(self, x: torch.Tensor) -> None:
        # x: (N, 1) observations (vector data: the event shape is (1,))
        with pyro.plate("data", x.shape[0]):  # every per-datapoint site, at dim -1
            z = pyro.sample("z", dist.Normal(0.0, 1.0))  # (N,); (K, N) under the particle plate
            # z[..., None]: (N, 1), or (K, N, 1) when the estimator vectorises K particles
            pyro.sample("x", dist.Normal(z[..., None], 1.0).to_event(1), obs=x)  # the data at "x"

    def guide(self, x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]):  # the same latent sites as the model, nothing else
            pyro.sample("z", dist.Normal(self.a * x[:, 0], self.log_s.exp()))


POINTS = torch.tensor([[-2.0], [-1.0], [-0.5], [0.0], [0.5], [1.0], [1.5], [3.0]])


def exact_log_likelihood(x: torch.Tensor) -> torch.Tensor:
    """log N(x; 0, 2) per point, ``(N,)``."""
    return dist.Normal(0.0, math.sqrt(2.0)).log_prob(x[:, 0])


def main(num_particles: int = 20_000, epochs: int = 200) -> dict:
    from evaluation import log_likelihood
    from inference import fit_model

    pair = GaussianPair()
    model = pgm.plain_model(pair, image_shape=[1], num_levels=0)  # real-valued data: K = 0
    exact = float(exact_log_likelihood(POINTS).mean())
    torch.manual_seed(0)
    estimate = float(log_likelihood(model, x=POINTS, num_particles=num_particles).mean())
    print(
        f"mean log p(x) over {len(POINTS)} points: exact {exact:.4f}, estimate {estimate:.4f} "
        f"(K = {num_particles})"
    )
    torch.manual_seed(0)
    train_x = torch.randn(2000, 1) * math.sqrt(2.0)  # draws from p(x)
    fit_model(model, train_x, epochs=epochs, batch_size=500, lr=0.05, device="cpu")
    a, s2 = float(pair.a.detach()), float(pair.log_s.detach().exp() ** 2)
    print(f"trained guide: a = {a:.3f}, s^2 = {s2:.3f} (exact posterior: 0.5, 0.5)")
    return {"exact": exact, "estimate": estimate, "a": a, "s2": s2}


if __name__ == "__main__":
    main()
