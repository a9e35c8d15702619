"""Guards: a non-finite loss or gradient stops training within its step, naming the step and the
Pyro site, with the last good checkpoint untouched; gradient clipping; Pyro validation is on in
tests; an observation that torch would broadcast against its distribution is refused.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer.util import is_validation_enabled
from torch import nn

import pgm
from evaluation.log_likelihood import estimate
from inference import NonFiniteLossError, Trainer, fit_model
from inference.config import resolve_config
from pgm_cli.main import main

# 200 images in batches of 50: 4 steps an epoch; step 10 is the second step of epoch 3.
TINY = {
    "data": "digits",
    "model": "vae",
    "latent_dim": 2,
    "hidden_dim": 16,
    "num_train": 200,
    "batch_size": 50,
    "epochs": 4,
    "lr": 3e-3,
    "seed": 0,
    "device": "cpu",
    "keep_checkpoints": 2,
}
NAN_STEP = 10


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _trainer(run: Path | None, **changes) -> tuple[Trainer, torch.Tensor, torch.Tensor]:
    from pgm.data import load_data

    cfg = resolve_config({**TINY, **changes}, image_shape=[1, 8, 8], num_levels=17)
    train_ds, valid_ds = load_data(cfg)
    torch.manual_seed(cfg["seed"])
    return Trainer(cfg, pgm.build(cfg), run), train_ds.float_images(), valid_ds.float_images()[:50]


def _poison_at(trainer: Trainer, module: nn.Module, run: Path, seen: dict) -> None:
    """At training step NAN_STEP, make ``module``'s output NaN, after recording the run folder."""

    def hook(mod, inputs, output):
        if mod.training and trainer.step == NAN_STEP - 1:
            seen.setdefault("before", _snapshot(run))
            return output * math.nan
        return output

    module.register_forward_hook(hook)


@pytest.mark.parametrize(
    "elbo, where, site",
    [
        # the lean Trace_ELBO skips distribution validation: the loss turns NaN at site 'x'
        ("trace", "likelihood.decoder", "model site 'x'"),
        # the importance-weighted bound runs Pyro's traces, validation on: the guide refuses NaN
        ("iwae", "posterior.encoder", "guide site 'z'"),
    ],
)
def test_nan_loss_stops_within_the_step_naming_step_and_site(elbo, where, site, tmp_path):
    trainer, x, valid = _trainer(tmp_path, elbo=elbo, num_particles=2)
    seen: dict = {}
    _poison_at(trainer, trainer.model.get_submodule(where), tmp_path, seen)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(x, valid, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"step {NAN_STEP} (epoch 3): "), message
    assert site in message and "the last checkpoint is untouched" in message, message
    assert trainer.step == NAN_STEP - 1  # no optimiser step was taken with the bad loss
    assert _snapshot(tmp_path) == seen["before"]  # checkpoints 1-2 and metrics: byte for byte
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "epoch-00001.safetensors",
        "epoch-00002.safetensors",
    ]


def test_invalid_parameters_in_validation_stop_in_one_line_naming_the_epoch(tmp_path):
    """A run that diverges so that validation, not a training step, first meets a distribution
    refusing its parameters (the encoder's output NaN in eval mode only) stops as a NaN loss
    does: one line naming the validation pass, checkpoints untouched; it was a traceback."""
    trainer, x, valid = _trainer(tmp_path, elbo="iwae", num_particles=2)
    seen: dict = {}

    def hook(mod, inputs, output):
        if not mod.training and trainer.epoch == 2:
            seen.setdefault("before", _snapshot(tmp_path))
            return output * math.nan
        return output

    trainer.model.posterior.encoder.register_forward_hook(hook)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(x, valid, progress=False)
    message = str(info.value)
    assert "\n" not in message and message.startswith("validation after epoch 3: "), message
    assert "guide site 'z'" in message and "the last checkpoint is untouched" in message
    assert _snapshot(tmp_path) == seen["before"] and trainer.model.training


def test_nan_gradient_stops_within_the_step_naming_the_parameter(tmp_path):
    trainer, x, valid = _trainer(tmp_path)
    weight = trainer.model.likelihood.decoder.net[0].weight
    seen: dict = {}

    def hook(grad):
        if trainer.step == NAN_STEP - 1:
            seen.setdefault("before", _snapshot(tmp_path))
            return grad * math.nan
        return grad

    weight.register_hook(hook)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(x, valid, progress=False)
    message = str(info.value)
    assert message.startswith(
        f"step {NAN_STEP} (epoch 3): non-finite gradient for likelihood.decoder.net.0.weight"
    ), message
    assert _snapshot(tmp_path) == seen["before"]
    assert all(torch.isfinite(v).all() for v in trainer.model.state_dict().values())
    assert any(not torch.equal(v, before[k]) for k, v in trainer.model.state_dict().items())


def test_a_huge_learning_rate_is_stopped_by_the_cli_in_one_line(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in TINY.items()))
    code = main(
        ["train", str(config), "--out", str(tmp_path / "run"), "--set", "lr=1e30", "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("pgm train: error: step 2 (epoch 1): "), err
    assert "site 'z'" in err
    assert not (tmp_path / "run").exists()  # nothing worth resuming was written: nothing is left


def test_grad_clip_bounds_the_gradient_norm():
    def norms(clip: float) -> list[float]:
        trainer, x, _ = _trainer(None, grad_clip=clip, epochs=1)
        seen: list[float] = []
        trainer.optimizer.register_step_pre_hook(
            lambda opt, args, kwargs: seen.append(
                float(
                    torch.nn.utils.get_total_norm(
                        [p.grad for p in trainer.model.parameters() if p.grad is not None]
                    )
                )
            )
        )
        trainer.fit(x, progress=False)
        return seen

    assert max(norms(0.0)) > 1.0
    assert max(norms(1.0)) <= 1.0 + 1e-4


def test_validation_is_on_in_tests():
    assert is_validation_enabled()


# -- an observation of shape (N, 1) against a batch (N,) would broadcast to (N, N) ---------------
def _broadcasting_model(x):
    """Vectors x: (N, 1), observed under a batch (N,) without ``.to_event(1)``: the mistake."""
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(z, 1.0), obs=x)


def _guide(x):
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(0.0, 1.0))


SHAPE_ERROR = (
    r"^site 'x': expected an observation of the distribution's shape \(\d+,\) "
    r"\(batch_shape \+ event_shape\); found shape \(\d+, 1\)"
)


@pytest.mark.parametrize("num_particles", [1, 3, 6])
def test_broadcast_observation_is_refused_by_the_estimator(num_particles):
    """K = 6 = N is the case Pyro's own site-shape check cannot see."""
    with pytest.raises(ValueError, match=SHAPE_ERROR):
        estimate(_broadcasting_model, _guide, torch.randn(6, 1), num_particles=num_particles)


class _PlainPyro(pgm.GenerativeModel):
    """A hand-written Pyro pair wrapped for the trainer, with one learnable location."""

    has_latents = True

    def __init__(self):
        super().__init__((1,), 0)
        self.shift = nn.Parameter(torch.zeros(()))

    def model(self, x):
        _broadcasting_model(x + self.shift)

    def guide(self, x):
        _guide(x)


def test_broadcast_observation_is_refused_by_the_trainer():
    with pytest.raises(ValueError, match=SHAPE_ERROR):
        fit_model(_PlainPyro(), torch.randn(8, 1), epochs=1, batch_size=4)
