"""Side by side with a peer: the same VAE trained by pythae, by a plain PyTorch loop and by
``pgm train``, every one scored by pgm's shared estimator on the same images (issue 10).

Settings (issue 10's table): binarized MNIST, Adam lr 1e-3, batch 128, 10 epochs, Bernoulli
likelihood, 50 latents, encoder 784-400-400 -> (mu, log sigma^2), decoder 50-400-400-784 (ReLU),
log p(x) with K = 1000 importance samples on the same 1,000 test images (the validation split
when the .npz holds no test split; the output says which). The pythae and plain-PyTorch models
are wrapped as a Pyro model/guide pair, so one estimator scores all of them.

pythae is optional (``pip install -e .[benchmark]``); without it its row says "not installed"
and the other rows still run. Run::

    python -m benchmarks.pythae_side_by_side --data-dir ../shared/data
    python -m benchmarks.pythae_side_by_side --epochs 1 --num-train 2048 --num-images 100  # quick
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PlainVAE", "main", "pyro_pair", "train_pgm", "train_plain", "train_pythae"]

LATENT, HIDDEN, D = 50, 400, 784


class PlainVAE(nn.Module):
    """784-400-400 -> (mu, log sigma^2); 50-400-400-784 logits: the peer's architecture."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(D, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU()
        )
        self.mu, self.log_var = nn.Linear(HIDDEN, LATENT), nn.Linear(HIDDEN, LATENT)
        self.decoder = nn.Sequential(
            nn.Linear(LATENT, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, D),
        )

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.flatten(-3))
        return self.mu(h), torch.exp(0.5 * self.log_var(h))

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


def pyro_pair(posterior, logits):
    """A Pyro model/guide pair keeping pgm's contract from ``posterior(x) -> (loc, scale)`` and
    ``logits(z) -> (..., 784)`` (for the shared estimator)."""

    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(LATENT), torch.ones(LATENT)).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=logits(z)).to_event(1), obs=x.flatten(-3))

    def guide(x):
        with pyro.plate("data", x.shape[0]):
            loc, scale = posterior(x)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    return model, guide


def _batches(n: int, batch: int, epoch: int, seed: int):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return [order[i : i + batch] for i in range(0, n, batch)]


def train_plain(x: torch.Tensor, epochs: int, seed: int = 0) -> PlainVAE:
    """A plain PyTorch loop with the analytic KL (Kingma & Welling 2014, eq. 10)."""
    torch.manual_seed(seed)
    vae = PlainVAE()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    flat = x.flatten(1)
    for epoch in range(epochs):
        for idx in _batches(x.shape[0], 128, epoch, seed):
            loc, scale = vae.posterior(x[idx])
            z = loc + scale * torch.randn_like(loc)
            rec = F.binary_cross_entropy_with_logits(
                vae.logits(z), flat[idx], reduction="none"
            ).sum(-1)
            kl = 0.5 * (loc.pow(2) + scale.pow(2) - 1 - 2 * scale.log()).sum(-1)
            loss = (rec + kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return vae.eval()


def train_pythae(x: torch.Tensor, epochs: int, seed: int = 0):
    """pythae's ``VAE`` with the same networks through its ``TrainingPipeline``; returns a
    ``(posterior, logits)`` pair, or None when pythae is not installed."""
    try:
        from pythae.models import VAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.pipelines import TrainingPipeline
        from pythae.trainers import BaseTrainerConfig
    except ImportError:
        return None
    torch.manual_seed(seed)
    plain = PlainVAE()

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net, self.mu, self.log_var = plain.encoder, plain.mu, plain.log_var

        def forward(self, x):
            h = self.net(x.flatten(1))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.log_var(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = plain.decoder

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)).view(-1, 1, 28, 28))

    model = VAE(
        VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce"),
        encoder=Encoder(),
        decoder=Decoder(),
    )
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(
            output_dir=out,
            learning_rate=1e-3,
            per_device_train_batch_size=128,
            num_epochs=epochs,
            seed=seed,
            no_cuda=True,
        )
        TrainingPipeline(training_config=config, model=model)(train_data=x.numpy(), eval_data=None)
    return plain.eval()


def train_pgm(x_train, x_valid, epochs: int, elbo: str, seed: int = 0):
    """``pgm train configs/vae-binarized-mnist.toml --set epochs=N`` (``elbo`` trace or
    mean-field)."""
    from pathlib import Path

    from inference import load_config, train
    from pgm.data import ImageDataset

    config = load_config(
        Path(__file__).resolve().parents[1] / "configs" / "vae-binarized-mnist.toml"
    )
    config.update(epochs=epochs, elbo=elbo, seed=seed, device="cpu")
    data = (
        ImageDataset("binarized-mnist", "train", x_train.to(torch.uint8), 2),
        ImageDataset("binarized-mnist", "valid", x_valid.to(torch.uint8), 2),
    )
    return train(config, data=data, progress=False).model


def main(argv: list[str] | None = None) -> int:
    from evaluation.log_likelihood import estimate
    from pgm.data import config_dataset

    p = argparse.ArgumentParser(
        prog="python -m benchmarks.pythae_side_by_side", description=__doc__.splitlines()[0]
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--num-train", type=int, default=0, help="first N training images (0: all 50,000)"
    )
    p.add_argument("--num-images", type=int, default=1000)
    p.add_argument("--num-particles", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = {"data": "binarized-mnist"}
    train_ds = config_dataset(cfg, "train", args.data_dir).subset(args.num_train or None)
    valid_ds = config_dataset(cfg, "valid", args.data_dir)
    try:
        test_ds, split = config_dataset(cfg, "test", args.data_dir), "test"
    except ValueError:
        test_ds, split = valid_ds, "valid"
    x_train, x_test = train_ds.float_images(), test_ds.subset(args.num_images).float_images()

    def score(name, encoder_text, model=None, guide=None, seconds=0.0):
        torch.manual_seed(0)
        if model is None:
            print(
                json.dumps(
                    {
                        "trainer": name,
                        "encoder": encoder_text,
                        "nats": None,
                        "note": "pythae not installed",
                    }
                )
            )
            return
        ll = estimate(model, guide, x_test, args.num_particles).log_likelihood
        print(
            json.dumps(
                {
                    "trainer": name,
                    "encoder": encoder_text,
                    "split": split,
                    "num_images": ll.numel(),
                    "num_particles": args.num_particles,
                    "nats": round(float(ll.mean()), 2),
                    "train_seconds": round(seconds, 1),
                }
            ),
            flush=True,
        )

    peer = "784-400-400 -> (mu, log sigma^2)"
    began = time.perf_counter()
    pythae_model = train_pythae(x_train, args.epochs)
    if pythae_model is None:
        score("pythae VAE", peer)
    else:
        score(
            "pythae VAE",
            peer,
            *pyro_pair(pythae_model.posterior, pythae_model.logits),
            time.perf_counter() - began,
        )
    began = time.perf_counter()
    plain = train_plain(x_train, args.epochs)
    score(
        "plain PyTorch, analytic KL",
        peer,
        *pyro_pair(plain.posterior, plain.logits),
        time.perf_counter() - began,
    )
    for elbo in ("trace", "mean-field"):
        began = time.perf_counter()
        model = train_pgm(x_train, valid_ds.float_images()[:1000], args.epochs, elbo)
        score(
            f"pgm train configs/vae-binarized-mnist.toml (elbo={elbo})",
            "784-400-400 -> heads",
            model,
            None,
            time.perf_counter() - began,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
