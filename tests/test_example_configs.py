"""The example configs under ``configs/``: one for every built-in model, prior and guide, each
naming only keys its model reads; and a config naming keys that do not apply to its model is
warned about in one line and those keys are not recorded in config.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import pgm
from inference import load_config, resolve_config, train

CONFIGS = Path(__file__).resolve().parent.parent / "pgm" / "configs"
EXAMPLES = sorted(CONFIGS.glob("*.toml"))  # configs/papers/ (reproductions) are not examples
DIGITS = {"image_shape": [1, 8, 8], "num_levels": 17}
BINARY = {"image_shape": [1, 28, 28], "num_levels": 2}


def _resolved(path: Path) -> tuple[dict, dict]:
    config = load_config(path)
    shape = BINARY if config.get("data") == "binarized-mnist" else DIGITS
    return config, resolve_config(config, **shape)


def test_every_built_in_model_prior_and_guide_has_an_example():
    configs = [load_config(p) for p in EXAMPLES]
    models = {c.get("model", "vae") for c in configs}
    priors = {
        c.get("prior", "standard-normal")
        for c in configs
        if c.get("model", "vae") in ("vae", "pixelvae")
    }
    guides = {
        c.get("guide", "diagonal-normal")
        for c in configs
        if c.get("model", "vae") in ("vae", "pixelvae")
    }
    builtin_models = {
        "vae",
        "pixelvae",
        "autoencoder",
        "pixelcnn",
        "gated-pixelcnn",
        "row-lstm",
        "diagonal-bilstm",
    }
    assert builtin_models <= models, builtin_models - models
    assert {"standard-normal", "diagonal-normal", "mixture", "vamp", "flow"} <= priors
    assert {"diagonal-normal", "iaf"} <= guides


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_names_only_keys_its_model_reads_and_builds(path, caplog):
    config, cfg = _resolved(path)
    assert not [r for r in caplog.records if r.name == "pgm"], caplog.text
    # every key the file names survives resolution (nothing in it was ignored)
    assert set(config) <= set(cfg), set(config) - set(cfg)
    model = pgm.build(cfg)
    assert model.describe() and model.describe() != cfg["model"]


def test_inapplicable_keys_are_warned_about_and_not_recorded(tmp_path, caplog):
    config = {
        "data": "digits",
        "model": "pixelcnn",
        "prior": "vamp",
        "num_components": 7,
        "num_layers": 2,
        "hidden_channels": 8,
        "epochs": 1,
        "num_train": 64,
        "device": "cpu",
    }
    with caplog.at_level(logging.WARNING, logger="pgm"):
        train(config, tmp_path / "run", progress=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "pgm"]
    assert lines == [
        "config: 'num_components', 'prior' do not apply to model 'pixelcnn'; "
        "ignored (not recorded in config.json)"
    ]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert "prior" not in saved and "num_components" not in saved and "latent_dim" not in saved
    assert saved["num_layers"] == 2  # what the model reads stays
    # the part-specific keys follow the part: num_components applies to a VampPrior only
    assert "num_components" in resolve_config({"model": "vae", "prior": "vamp"}, **DIGITS)
    assert "num_components" not in resolve_config({"model": "vae"}, **DIGITS)


def test_shipped_configs_are_named_by_name_or_repository_path(tmp_path, monkeypatch):
    from pgm.configs import example_names, recipe_folder, resolve_config_path

    assert example_names() == [p.stem for p in EXAMPLES]
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    shipped = CONFIGS / "vae-digits.toml"
    for name in ("vae-digits", "vae-digits.toml", "configs/vae-digits.toml"):
        assert Path(resolve_config_path(name)).samefile(shipped)
    recipe = Path(resolve_config_path("configs/papers/pixelcnn.toml"))
    assert recipe.samefile(recipe_folder() / "pixelcnn.toml")
    assert Path(resolve_config_path("papers/pixelcnn")).samefile(recipe)
    # a user's own file at the path given wins; an unknown name is left for the loader to refuse
    (tmp_path / "vae-digits").write_text('data = "digits"\n')
    assert resolve_config_path("vae-digits") == "vae-digits"
    assert resolve_config_path("../vae-digits") == "../vae-digits"
    assert resolve_config_path("no/such-config") == "no/such-config"
    # a path is the user's, never a shipped config: ./x, a//x and /x are left to the loader
    for path in ("./vae-vamp-digits", "configs//vae-digits", "/vae-digits"):
        assert resolve_config_path(path) == path
    assert resolve_config_path("no-such.toml") == "no-such.toml"


def test_pgm_train_refuses_an_unknown_name_in_one_line(tmp_path, capsys):
    from pgm_cli.main import main

    assert main(["train", "no-such-config", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "pgm train: error: config: expected a TOML file or a shipped example "
        "(autoencoder-digits, diagonal-bilstm-digits,"
    )
    assert err.endswith("found neither: 'no-such-config'") and "\n" not in err
    assert not (tmp_path / "run").exists()
    # a path is left to the loader, which names it
    assert main(["train", "cfgs/no-such.toml", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == (
        "pgm train: error: config: expected a TOML file; found no such file: cfgs/no-such.toml"
    )


CLOSED_FORM_PRIORS = {"standard-normal", "diagonal-normal"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_use_the_closed_form_kl_wherever_there_is_one(path):
    """A Gaussian prior with a diagonal-Gaussian guide: TraceMeanField_ELBO (ahead at equal
    work, benchmarks/RESULTS.md); the sampled KL only where there is no closed form (mixture,
    vamp, flow priors, an iaf guide) or for the importance-weighted bound."""
    _, cfg = _resolved(path)
    if cfg["model"] not in ("vae", "pixelvae") or cfg["elbo"] == "iwae":
        return
    closed = cfg["prior"] in CLOSED_FORM_PRIORS and cfg["guide"] == "diagonal-normal"
    assert cfg["elbo"] == ("mean-field" if closed else "trace"), (path.name, cfg["elbo"])


def _parameters(cfg: dict) -> int:
    return sum(p.numel() for p in pgm.build(cfg).parameters())


def test_layer_settings_a_network_does_not_read_are_warned_about_and_not_recorded(caplog):
    """gated-conv's layers are fixed and gated-mlp's gates are its non-linearity: the widths
    and ``activation`` they are handed change nothing, so naming them is warned about (naming
    the network) and they are not recorded. What does read them keeps them: an hvae's dense
    layers, an IAF guide's flows."""
    base = {"model": "vae", "network": "gated-conv", "latent_dim": 4}
    with caplog.at_level(logging.WARNING, logger="pgm"):
        cfg = resolve_config({**base, "hidden_dim": 32, "activation": "tanh"}, **DIGITS)
    assert [r.getMessage() for r in caplog.records if r.name == "pgm"] == [
        "config: 'activation', 'hidden_dim' do not apply to model 'vae' with network "
        "'gated-conv'; ignored (not recorded in config.json)"
    ]
    assert not {"hidden_dim", "hidden_layers", "hidden_dims", "activation"} & set(cfg)
    # what they would have set never reached the model: the same network either way
    assert _parameters(cfg) == _parameters(resolve_config(base, **DIGITS))
    # gated-mlp reads its widths, not activation
    gated = resolve_config({**base, "network": "gated-mlp", "hidden_dim": 32}, **DIGITS)
    assert gated["hidden_dim"] == 32 and "activation" not in gated
    assert _parameters(gated) != _parameters({**gated, "hidden_dim": 16})
    # an hvae's z towers read the widths whatever its network; an IAF guide reads hidden_dim
    hvae = resolve_config({**base, "model": "hvae", "hidden_dims": [24, 24]}, **DIGITS)
    assert hvae["hidden_dims"] == [24, 24] and "activation" not in hvae
    assert _parameters(hvae) != _parameters({**hvae, "hidden_dims": [12, 12]})
    iaf = resolve_config({**base, "guide": "iaf", "hidden_dim": 32}, **DIGITS)
    assert iaf["hidden_dim"] == 32
    assert _parameters(iaf) != _parameters({**iaf, "hidden_dim": 16})
    # mlp and conv read them all
    for network in ("mlp", "conv"):
        kept = resolve_config({**base, "network": network, "activation": "tanh"}, **DIGITS)
        assert kept["activation"] == "tanh" and kept["hidden_dim"] == 256
