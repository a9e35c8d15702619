"""The VampPrior authors' code as options (Tomczak & Welling 2018,
github.com/jmtomczak/vae_vampprior): ``weight_init = "he"``, the ``vamp`` prior's
``pseudo_inputs = "hardtanh"``, and the clamped guide's reach under ``hvae``. Each default must
build exactly what a run without the key built, so earlier runs read, resume and compare
unchanged."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import pgm
from pgm.errors import PgmError
from pgm.model_config import inapplicable_keys, recorded_config, resolve_model_config

VAMP = {
    "model": "vae",
    "prior": "vamp",
    "num_components": 5,
    "latent_dim": 4,
    "network": "gated-mlp",
    "hidden_dims": [300, 300],
    "image_shape": [1, 28, 28],
    "num_levels": 2,
}


def _built(cfg: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return pgm.build(cfg).state_dict()


def test_defaults_build_what_a_config_without_the_keys_built():
    """``weight_init = "torch"`` and ``pseudo_inputs = "sigmoid"`` draw the same tensors, bit for
    bit, as a config that names neither (seed 0)."""
    plain = _built(VAMP)
    named = _built({**VAMP, "weight_init": "torch", "pseudo_inputs": "sigmoid"})
    assert plain.keys() == named.keys()
    assert all(torch.equal(plain[k], named[k]) for k in plain)


def test_he_init_redraws_linear_weights_at_two_over_fan_in_and_keeps_the_rest():
    """Every linear weight's sample standard deviation is within 5% of sqrt(2 / fan_in) (layers
    of at least 4,000 weights, seed 0; the standard error there is under 1.2%); biases and the
    pseudo-inputs are the tensors PyTorch's initialisation drew."""
    plain = _built(VAMP)
    torch.manual_seed(0)
    model = pgm.build({**VAMP, "weight_init": "he"})
    he = model.state_dict()
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    assert len(linears) >= 10
    for name, layer in linears:
        assert not torch.equal(he[f"{name}.weight"], plain[f"{name}.weight"]), name
        assert torch.equal(he[f"{name}.bias"], plain[f"{name}.bias"]), name
        if layer.weight.numel() >= 4000:
            want = math.sqrt(2.0 / layer.in_features)
            assert abs(float(he[f"{name}.weight"].std()) / want - 1) < 0.05, name
    assert torch.equal(he["prior.pseudo_inputs"], plain["prior.pseudo_inputs"])


def test_he_init_is_not_applied_where_the_model_does_not_read_it():
    """A PixelCNN does not read ``weight_init`` (it is listed as inapplicable), and builds the
    same tensors with it as without (seed 0)."""
    cfg = {"model": "pixelcnn", "image_shape": [1, 8, 8], "num_levels": 2, "num_layers": 2}
    assert "weight_init" in inapplicable_keys(resolve_model_config({**cfg, "weight_init": "he"}))
    plain, he = _built(cfg), _built({**cfg, "weight_init": "he"})
    assert all(torch.equal(plain[k], he[k]) for k in plain)


@pytest.mark.parametrize("levels", [2, 17])
def test_hardtanh_pseudo_inputs_start_near_black_and_stay_in_range(levels):
    """``pseudo_inputs = "hardtanh"``: images start at 0.05 (K-1) on average (tolerance 0.005
    (K-1); 5 x 784 draws of sd 0.01 (K-1), seed 0), lie in [0, K-1] however far a parameter
    is pushed, and a clipped pixel gets no gradient while one inside the range does."""
    torch.manual_seed(0)
    model = pgm.build({**VAMP, "num_levels": levels, "pseudo_inputs": "hardtanh"})
    prior = model.prior
    top = levels - 1
    assert abs(float(prior.images().detach().mean()) - 0.05 * top) < 0.005 * top
    with torch.no_grad():
        prior.pseudo_inputs[0, 0, 0, 0] = -3.0
        prior.pseudo_inputs[0, 0, 0, 1] = 100.0 * top
    images = prior.images().detach()
    assert float(images.min()) == 0.0 and float(images.max()) == top
    z = torch.zeros(3, VAMP["latent_dim"])
    model.prior().log_prob(z).sum().backward()
    grad = prior.pseudo_inputs.grad
    assert float(grad[0, 0, 0, 0]) == 0.0 and float(grad[0, 0, 0, 1]) == 0.0
    assert float(grad[0, 0, 5:, 5:].abs().sum()) > 0


def test_bad_values_are_refused_naming_the_key():
    with pytest.raises(PgmError, match=r"^weight_init: expected one of he, torch; found 'xavier'"):
        pgm.build({**VAMP, "weight_init": "xavier"})
    with pytest.raises(
        PgmError, match=r"^pseudo_inputs: expected one of hardtanh, sigmoid; found 'tanh'"
    ):
        pgm.build({**VAMP, "pseudo_inputs": "tanh"})


def test_an_earlier_record_reads_as_the_defaults_it_was_trained_with():
    """A run's config.json from before the keys gets ``weight_init = "torch"``, and, under a
    VampPrior only, ``pseudo_inputs = "sigmoid"``."""
    vamp = recorded_config(dict(VAMP))
    assert vamp["weight_init"] == "torch" and vamp["pseudo_inputs"] == "sigmoid"
    normal = recorded_config({**VAMP, "prior": "standard-normal"})
    assert normal["weight_init"] == "torch" and "pseudo_inputs" not in normal


HVAE = {
    "model": "hvae",
    "prior": "vamp",
    "num_components": 3,
    "latent_dim": 2,
    "latent_dim_top": 2,
    "hidden_dim": 8,
    "image_shape": [1, 8, 8],
    "num_levels": 2,
}


def test_conditional_scale_clamps_the_two_conditional_gaussians_of_an_hvae():
    """``conditional_scale = "clamped-log-variance"``: q(z1 | x, z2) and p(z1 | z2) with heads
    pushed to +-50 give exp(1) and exp(-3) (the authors' code clamps every log-variance to
    [-6, 2]); the default keeps softplus + 1e-4, whatever the guide (an earlier run with the
    clamped guide had softplus conditionals, and builds them still)."""
    x, z2 = torch.ones(4, 1, 8, 8), torch.zeros(4, 2)
    cases = (
        ({"conditional_scale": "clamped-log-variance"}, True),
        ({"guide": "clamped-diagonal-normal"}, False),
        ({}, False),
    )
    for keys, bounded in cases:
        torch.manual_seed(0)
        model = pgm.build({**HVAE, **keys})
        for head in (model.posterior.bottom, model.conditional_prior):
            inputs = (x, z2) if head is model.posterior.bottom else (z2,)
            with torch.no_grad():
                head.scale.bias.fill_(50.0)
                wide = head(*inputs).stddev
                head.scale.bias.fill_(-50.0)
                narrow = head(*inputs).stddev
            if bounded:
                assert torch.allclose(wide, torch.full_like(wide, math.exp(1.0)))
                assert torch.allclose(narrow, torch.full_like(narrow, math.exp(-3.0)))
            else:
                assert float(wide.min()) > 40
                assert torch.allclose(narrow, torch.full_like(narrow, 1e-4))
    assert "conditional_scale" in inapplicable_keys(
        resolve_model_config({**HVAE, "model": "vae", "conditional_scale": "softplus"})
    )


def test_a_plugin_model_owns_keys_it_declares_and_initialises_itself():
    """A plug-in model declaring ``weight_init`` itself keeps its value unchecked; one taking the
    built-in key with ``"he"`` is not redrawn (it initialises itself), seed 0."""
    from pgm.plain_model import MODEL_KEYS
    from pgm.registry import MODELS

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(64, 32)

        def model(self, x):
            pass

        def guide(self, x):
            pass

    owning, plain_name = "test-owns-weight-init", "test-plain-init"
    pgm.register_model(owning, "a test model", config={"weight_init": "xavier"})(lambda c: Tiny())
    pgm.register_model(plain_name, "a test model")(lambda c: Tiny())
    try:
        shape = {"image_shape": [1, 8, 8], "num_levels": 2}
        assert resolve_model_config({"model": owning, **shape})["weight_init"] == "xavier"
        torch.manual_seed(0)
        plain = Tiny().state_dict()
        he = _built({"model": plain_name, "weight_init": "he", **shape})
        assert he.keys() == {f"network.{k}" for k in plain}
        assert all(torch.equal(plain[k], he[f"network.{k}"]) for k in plain)
    finally:
        for name in (owning, plain_name):
            MODEL_KEYS.pop(name, None)
            MODELS.unregister(name)


@pytest.mark.parametrize("part", [{"prior": "flow"}, {"guide": "iaf"}])
def test_he_init_leaves_normalising_flows_as_pyro_made_them(part):
    """A flow's networks keep Pyro's initialisation (near the identity; He-drawn, a flow
    prior's first loss was 1e11), while the encoder and decoder are redrawn (seed 0)."""
    cfg = {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17, **part}
    plain, he = _built(cfg), _built({**cfg, "weight_init": "he"})
    changed = {k for k in plain if not torch.equal(plain[k], he[k])}
    flow = {k for k in plain if k.startswith(("prior.couplings", "posterior.flows"))}
    assert flow and not flow & changed
    assert any(k.startswith("likelihood.decoder") for k in changed)


def test_he_with_softplus_scales_and_centred_input_is_warned_about(caplog):
    """He with softplus scales and {-1, 1} input starts an hvae far out (measured in the warning:
    first -ELBO 1e3 to 1e7); with {0, 1} input, the clamped scales or torch's initialisation it
    does not, and nothing is said. Seed 4: the measured worst start of five."""
    import logging

    from evaluation.log_likelihood import elbo
    from inference.config import resolve_config, warn_initialisation

    hvae = {**VAMP, "model": "hvae", "latent_dim": 8, "latent_dim_top": 8, "weight_init": "he"}
    quiet = [
        {**hvae, "encoder_input": "unit"},
        {**hvae, "encoder_input": "centred", "conditional_scale": "clamped-log-variance"},
        {**hvae, "encoder_input": "centred", "weight_init": "torch"},
    ]
    with caplog.at_level(logging.WARNING, logger="pgm"):
        for cfg in quiet:
            warn_initialisation(resolve_config(cfg))
        assert not [r for r in caplog.records if "weight_init" in r.getMessage()]
        loud = resolve_config({**hvae, "encoder_input": "centred"})
        # resolving a config (evaluating, resuming, opening a run) says nothing: only a start
        assert not [r for r in caplog.records if "weight_init" in r.getMessage()]
        warn_initialisation(loud)
    assert [r.getMessage()[:60] for r in caplog.records] == [
        "weight_init: 'he' with conditional_scale 'softplus' and enco"
    ]
    # what it warns about: a start far above torch's initialisation on the same images
    x = (torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.13).float()
    losses = []
    for cfg in (loud, resolve_config({**hvae, "encoder_input": "centred", "weight_init": "torch"})):
        torch.manual_seed(4)
        losses.append(float(-elbo(pgm.build(cfg), None, x, 1).mean()))
    assert losses[0] > 2 * losses[1], losses


def test_the_he_warning_is_said_when_a_run_starts_not_when_it_resumes(tmp_path, caplog):
    """The far-out start is a property of a fresh initialisation: a new run warns, the same run
    resumed (its weights from the checkpoint) does not."""
    import logging

    import inference
    from inference import train

    cfg = {"model": "hvae", "latent_dim": 2, "hidden_dim": 8, "weight_init": "he"}
    cfg.update(data="digits-binary", num_train=32, epochs=2, device="cpu")
    with caplog.at_level(logging.WARNING, logger="pgm"):
        train(cfg, tmp_path / "run", max_epochs=1, progress=False)
        started = [r for r in caplog.records if r.getMessage().startswith("weight_init: 'he'")]
        inference.training_config._WARNED.clear()  # as a new process would
        caplog.clear()
        train(cfg, tmp_path / "run", resume=True, progress=False)
        resumed = [r for r in caplog.records if r.getMessage().startswith("weight_init: 'he'")]
    assert len(started) == 1 and resumed == []


def test_he_leaves_a_plugin_parts_and_networks_layers_as_their_author_drew_them():
    """Under a built-in model, ``weight_init = "he"`` redraws pgm's own dense layers only: a
    plug-in prior's and a plug-in network's linear layers keep the draw their factory made
    (the same tensors as with ``torch``, seed 0), while pgm's decoder is redrawn."""
    from pgm.nn.decoders import MLPDecoder
    from pgm.registry import DECODERS, ENCODERS, PRIORS

    class LinearPrior(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.shift = nn.Linear(1, d)

        def forward(self):
            loc = self.shift(torch.ones(1))
            return torch.distributions.Independent(
                torch.distributions.Normal(loc, torch.ones_like(loc)), 1
            )

    class Encoder(nn.Module):
        def __init__(self, event_shape, num_levels, hidden_dims, out_features=None, act="relu"):
            super().__init__()
            self.out_features = out_features or 12
            self.linear = nn.Linear(64, self.out_features)

        def forward(self, x):
            return self.linear(x.reshape(*x.shape[:-3], 64) / 16)

    class Decoder(MLPDecoder):  # pgm's code under a plug-in's class: the plug-in's network
        pass

    name = "t-he-plugin"
    factory = lambda cfg: LinearPrior(cfg["latent_dim"])  # noqa: E731
    factory.__module__ = "a_plugin"  # as a plug-in file's factory is
    PRIORS.register(name)(factory)
    ENCODERS.register(name)(Encoder)
    DECODERS.register(name)(Decoder)
    try:
        for cfg in (
            {**VAMP, "prior": name},
            {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17, "network": name},
        ):
            plain, he = _built(cfg), _built({**cfg, "weight_init": "he"})
            changed = {k for k in plain if not torch.equal(plain[k], he[k])}
            own = {k for k in plain if k.startswith(("prior.shift", "posterior.encoder.linear"))}
            own |= {k for k in plain if cfg.get("network") == name and "decoder" in k}
            assert own and not own & changed, sorted(own & changed)
            if cfg.get("network") != name:
                assert any(k.startswith("likelihood.decoder") for k in changed)
            else:
                assert any(k.startswith("posterior") and k not in own for k in changed)
    finally:
        for registry in (PRIORS, ENCODERS, DECODERS):
            registry.unregister(name)
