"""Every prior x guide x likelihood builds, trains on real digits with the loss going down,
samples in the support, and evaluates with the shared estimator."""

from __future__ import annotations

import itertools

import pytest
import torch

import evaluation
import pgm
from inference import Trainer, resolve_config

LIKELIHOOD_DATA = {
    "bernoulli": "digits-binary",
    "categorical": "digits",
    "discretized-logistic": "digits",
    "normal": "digits",
}
COMBOS = list(itertools.product(sorted(pgm.PRIORS), sorted(pgm.GUIDES), sorted(LIKELIHOOD_DATA)))


@pytest.fixture(scope="module")
def datasets():
    return {
        name: (
            pgm.load_dataset(name, "train").subset(256),
            pgm.load_dataset(name, "valid").subset(64),
        )
        for name in set(LIKELIHOOD_DATA.values())
    }


def test_every_registered_part_is_covered():
    assert set(LIKELIHOOD_DATA) <= set(pgm.LIKELIHOODS)
    assert len(COMBOS) == len(pgm.PRIORS) * len(pgm.GUIDES) * len(LIKELIHOOD_DATA) >= 40


@pytest.mark.parametrize("prior,guide,likelihood", COMBOS)
def test_combination_trains_samples_and_evaluates(prior, guide, likelihood, datasets):
    train, valid = datasets[LIKELIHOOD_DATA[likelihood]]
    cfg = resolve_config(
        {
            "data": train.name,
            "model": "vae",
            "prior": prior,
            "guide": guide,
            "likelihood": likelihood,
            "latent_dim": 4,
            "hidden_dim": 48,
            "num_components": 5,
            "num_mixtures": 2,
            "epochs": 3,
            "batch_size": 32,
            "lr": 3e-3,
            "device": "cpu",
        },
        image_shape=list(train.image_shape),
        num_levels=train.num_levels,
    )
    torch.manual_seed(0)
    model = pgm.build(cfg)
    trainer = Trainer(cfg, model)
    trainer.prepare(train.float_images())
    before = trainer.valid_loss(valid.float_images())
    trainer.fit(train.float_images(), progress=False)
    after = trainer.valid_loss(valid.float_images())
    # 24 Adam steps on 256 real digits: the fixed-noise validation loss must go down
    assert after < before, (before, after)

    x = model.sample(5)
    assert x.shape == (5, 1, 8, 8)
    assert torch.isfinite(x).all()
    if likelihood != "normal":  # a Gaussian's samples are real numbers; the others are levels
        k = train.num_levels
        assert ((x >= 0) & (x <= k - 1) & (x == x.round())).all()

    est = evaluation.estimate(model, None, valid.float_images()[:8], num_particles=8)
    assert torch.isfinite(est.log_likelihood).all()
    assert (est.elbo <= est.log_likelihood + 1e-3).all()


@pytest.mark.parametrize("elbo", ["trace", "mean-field", "iwae"])
def test_elbos_train(elbo, datasets):
    train, valid = datasets["digits"]
    cfg = resolve_config(
        {
            "data": "digits",
            "elbo": elbo,
            "num_particles": 3 if elbo == "iwae" else 1,
            "hidden_dim": 48,
            "epochs": 3,
            "batch_size": 32,
            "lr": 3e-3,
            "device": "cpu",
            "kl_warmup_epochs": 1,
        },
        image_shape=[1, 8, 8],
        num_levels=17,
    )
    model = pgm.build(cfg)
    trainer = Trainer(cfg, model)
    trainer.prepare(train.float_images())
    before = trainer.valid_loss(valid.float_images())
    result = trainer.fit(train.float_images(), valid.float_images(), progress=False)
    assert result.metrics[-1]["valid_loss"] < before
    assert result.metrics[0]["kl_weight"] == 1.0  # warm-up over the first epoch's steps


def test_mean_field_uses_the_closed_form_kl():
    """TraceMeanField_ELBO = E_q[log p(x|z)] - KL(q || p) with the KL in closed form: with the
    same noise (seed 3) the loss equals the reconstruction term from the same z minus the
    analytic Gaussian KL, while Trace_ELBO's sampled KL differs from it."""
    from pyro.infer import Trace_ELBO, TraceMeanField_ELBO
    from torch.distributions import kl_divergence

    model = pgm.build({"image_shape": [1, 8, 8], "num_levels": 17, "hidden_dim": 32})
    x = pgm.load_dataset("digits", "valid").float_images()[:16]
    torch.manual_seed(3)
    mean_field = TraceMeanField_ELBO().differentiable_loss(model.model, model.guide, x)
    torch.manual_seed(3)
    sampled = Trace_ELBO().differentiable_loss(model.model, model.guide, x)
    torch.manual_seed(3)
    q = model.posterior(x)
    z = q.rsample()
    reconstruction = model.likelihood(z).log_prob(x).sum()
    kl = kl_divergence(q, model.prior().expand(q.batch_shape)).sum()
    torch.testing.assert_close(mean_field, -(reconstruction - kl))
    assert abs(float((sampled - mean_field).detach())) > 1e-3


def test_unknown_names_list_the_valid_ones():
    for key in ("model", "prior", "guide", "likelihood"):
        with pytest.raises(ValueError, match=f"{key}: expected one of .*; found 'nope'"):
            pgm.build({"image_shape": [1, 8, 8], "num_levels": 17, key: "nope"})
    with pytest.raises(ValueError, match="unknown key"):
        pgm.build({"image_shape": [1, 8, 8], "num_levels": 17, "latnet_dim": 3})


def test_autoencoder_learns_features_and_refuses_to_sample():
    train = pgm.load_dataset("digits", "train").subset(256)
    cfg = resolve_config(
        {"model": "autoencoder", "hidden_dim": 48, "epochs": 3, "device": "cpu"},
        image_shape=[1, 8, 8],
        num_levels=17,
    )
    model = pgm.build(cfg)
    x = train.float_images()
    before = model.reconstruction_loss(x).mean().item()
    Trainer(cfg, model).fit(x, progress=False)
    assert model.reconstruction_loss(x).mean().item() < before
    assert model.encode(x).shape == (256, cfg["latent_dim"])
    assert model.reconstruct(x).shape == x.shape
    with pytest.raises(TypeError, match="no prior"):
        model.sample(4)
