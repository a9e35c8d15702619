"""Side by side with a peer: the same VAE trained by pythae, by a plain PyTorch loop and by
``pgm train``, every one scored by pgm's shared estimator on the same images (issue 10).

Settings (issue 10's table): binarized MNIST, Adam lr 1e-3, batch 128, 10 epochs, Bernoulli
likelihood, 50 latents, encoder 784-400-400 -> (mu, log sigma^2), decoder 50-400-400-784 (ReLU),
log p(x) with K = 1000 importance samples on the same 1,000 test images (when the .npz holds no
test split: the first 1,000 validation images, and the epoch is chosen on the last 1,000, so
the images scored never choose it; the output says which). The pythae and plain-PyTorch models
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
    """784-400-400 -> (mu, log sigma^2); 50-400-400-784 logits: the peer's architecture.
    ``head`` is how the scale comes from the second head: ``exp`` (pythae's
    ``exp(0.5 log sigma^2)``) or ``softplus`` (pgm's ``softplus(.) + 1e-4``); ``centred``
    feeds the encoder pixels in {-1, 1} (pgm's ``scale_pixels``) instead of {0, 1}."""

    def __init__(self, head: str = "exp", centred: bool = False) -> None:
        super().__init__()
        self.head, self.centred = head, centred
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
        x = x.flatten(-3)
        h = self.encoder(2 * x - 1 if self.centred else x)
        raw = self.log_var(h)
        scale = torch.exp(0.5 * raw) if self.head == "exp" else F.softplus(raw) + 1e-4
        return self.mu(h), scale

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


def train_plain(
    x: torch.Tensor,
    epochs: int,
    seed: int = 0,
    head: str = "exp",
    kl: str = "analytic",
    centred: bool = False,
) -> PlainVAE:
    """A plain PyTorch loop, last epoch kept: ``kl`` ``analytic`` (Kingma & Welling 2014,
    eq. 10) or ``sampled`` (log q(z|x) - log p(z) at the one reparameterised draw, as
    ``Trace_ELBO``); ``head`` as :class:`PlainVAE`."""
    torch.manual_seed(seed)
    vae = PlainVAE(head, centred)
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    flat = x.flatten(1)
    prior = dist.Normal(torch.zeros(LATENT), torch.ones(LATENT)).to_event(1)
    for epoch in range(epochs):
        for idx in _batches(x.shape[0], 128, epoch, seed):
            loc, scale = vae.posterior(x[idx])
            z = loc + scale * torch.randn_like(loc)
            rec = F.binary_cross_entropy_with_logits(
                vae.logits(z), flat[idx], reduction="none"
            ).sum(-1)
            if kl == "analytic":
                div = 0.5 * (loc.pow(2) + scale.pow(2) - 1 - 2 * scale.log()).sum(-1)
            else:
                div = dist.Normal(loc, scale).to_event(1).log_prob(z) - prior.log_prob(z)
            loss = (rec + div).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return vae.eval()


def train_pythae(x: torch.Tensor, x_select: torch.Tensor, epochs: int, seed: int = 0):
    """pythae's ``VAE`` with the same networks through its ``TrainingPipeline``, given
    ``x_select`` as its eval data (it then keeps the epoch of least eval loss, its default);
    returns ``{"best": (posterior, logits), "last": (posterior, logits), "best_epoch": n}``,
    or None when pythae is not installed."""
    try:
        from pythae.models import VAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.pipelines import TrainingPipeline
        from pythae.trainers import BaseTrainerConfig
    except ImportError:
        return None
    torch.manual_seed(seed)
    plain = PlainVAE("exp")

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
            per_device_eval_batch_size=128,
            num_epochs=epochs,
            seed=seed,
            no_cuda=True,
        )
        pipeline = TrainingPipeline(training_config=config, model=model)
        pipeline(train_data=x.numpy(), eval_data=x_select.numpy())
    best = pipeline.trainer._best_model.eval()
    best_plain = PlainVAE("exp")
    best_plain.encoder, best_plain.mu, best_plain.log_var = (
        best.encoder.net,
        best.encoder.mu,
        best.encoder.log_var,
    )
    best_plain.decoder = best.decoder.net
    with torch.no_grad():  # the epoch pythae kept: the one whose weights equal the best copy
        last = plain.eval()
        same = all(
            torch.equal(a, b)
            for a, b in zip(last.parameters(), best_plain.parameters(), strict=True)
        )
    return {
        "best": (best_plain.eval().posterior, best_plain.logits),
        "last": (last.posterior, last.logits),
        "best_is_last": same,
    }


def train_pgm(x_train, x_select, epochs: int, elbo: str, seed: int = 0):
    """``pgm train vae-binarized-mnist --set epochs=N elbo=ELBO`` on these
    images, ``x_select`` its validation images (the best of them kept, pgm's rule); returns the
    model and its per-epoch metrics."""
    from inference import load_config, train
    from pgm.data import ImageDataset

    config = load_config(_example_config("vae-binarized-mnist.toml"))
    config.update(epochs=epochs, elbo=elbo, seed=seed, device="cpu")
    data = (
        ImageDataset("binarized-mnist", "train", x_train.to(torch.uint8), 2),
        ImageDataset("binarized-mnist", "valid", x_select.to(torch.uint8), 2),
    )
    fit = train(config, data=data, progress=False)
    return fit.model, fit.metrics


def _example_config(name: str):
    """A shipped example config's path (package data of pgm.configs)."""
    from pgm.configs import shipped_config

    return shipped_config(name)


ROWS = (
    "pythae",
    "plain-exp-analytic",
    "plain-softplus-analytic",
    "plain-exp-sampled",
    "plain-softplus-analytic-centred",
    "pgm-trace",
    "pgm-mean-field",
)


def _parse(argv):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.pythae_side_by_side", description=__doc__.splitlines()[0]
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--num-train", type=int, default=0, help="first N training images (0: all 50,000)"
    )
    p.add_argument("--num-images", type=int, default=1000)
    p.add_argument(
        "--num-select", type=int, default=1000, help="validation images for the best epoch"
    )
    p.add_argument("--num-particles", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from evaluation.log_likelihood import estimate
    from pgm.data import config_dataset

    args = _parse(argv)
    torch.set_num_threads(args.threads)
    cfg = {"data": "binarized-mnist"}
    train_ds = config_dataset(cfg, "train", args.data_dir).subset(args.num_train or None)
    valid = config_dataset(cfg, "valid", args.data_dir).float_images()
    try:
        test_ds, split = config_dataset(cfg, "test", args.data_dir), "test"
        x_test = test_ds.subset(args.num_images).float_images()
    except (ValueError, KeyError):
        # no test split: the first images of valid are scored, the last ones select the epoch
        x_test, split = valid[: args.num_images], f"valid[:{args.num_images}]"
    x_select = valid[-args.num_select :]
    x_train = train_ds.float_images()

    def score(row, seed, model, guide=None, seconds=0.0, **extra):
        torch.manual_seed(0)
        ll = estimate(model, guide, x_test, args.num_particles).log_likelihood
        record = {
            "row": row,
            "seed": seed,
            "split": split,
            "select": f"valid[-{args.num_select}:]",
            "num_images": ll.numel(),
            "num_particles": args.num_particles,
            "epochs": args.epochs,
            "nats": round(float(ll.mean()), 2),
            "sem": round(float(ll.std() / ll.numel() ** 0.5), 2),
            "seconds_per_epoch": round(seconds / args.epochs, 1),
            **extra,
        }
        print(json.dumps(record), flush=True)

    for seed in args.seeds:
        for row in args.rows:
            _run_row(row, seed, args, x_train, x_select, score)
    return 0


def _run_row(row, seed, args, x_train, x_select, score) -> None:
    began = time.perf_counter()
    if row == "pythae":
        out = train_pythae(x_train, x_select, args.epochs, seed)
        seconds = time.perf_counter() - began
        if out is None:
            print(json.dumps({"row": row, "seed": seed, "nats": None, "note": "not installed"}))
            return
        kept = "last" if out["best_is_last"] else "an earlier epoch"
        score("pythae (best epoch)", seed, *pyro_pair(*out["best"]), seconds, kept=kept)
        score("pythae (last epoch)", seed, *pyro_pair(*out["last"]), seconds)
    elif row.startswith("plain-"):
        _, head, kl, *centred = row.split("-")
        vae = train_plain(x_train, args.epochs, seed, head, kl, bool(centred))
        seconds = time.perf_counter() - began
        pixels = ", pixels in {-1, 1}" if centred else ""
        name = f"plain PyTorch, {head} head, {kl} KL{pixels} (last epoch)"
        score(name, seed, *pyro_pair(vae.posterior, vae.logits), seconds)
    else:
        elbo = row.removeprefix("pgm-")
        model, metrics = train_pgm(x_train, x_select, args.epochs, elbo, seed)
        seconds = sum(m["seconds"] for m in metrics)
        best = min(metrics, key=lambda m: m["valid_loss"])["epoch"]
        score(
            f"pgm train vae-binarized-mnist (elbo={elbo}, best epoch)",
            seed,
            model,
            None,
            seconds,
            best_epoch=best,
        )


if __name__ == "__main__":
    raise SystemExit(main())
