"""Plug-ins on equal terms: a user's parts and plain Pyro pairs enter through a config key,
``--plugin`` or a ``pgm.plugins`` entry point; runs record what they need and refuse, in one
line, to load without it."""

from __future__ import annotations

import hashlib
import json
import math
import runpy
import sys
import textwrap
import uuid
import warnings
from pathlib import Path

import pytest
import torch

import pgm
from inference import train
from inference.config import load_config, resolve_config
from pgm import plugins
from pgm.plain_model import MODEL_KEYS
from pgm.registry import all_registries
from pgm_cli.main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# a plug-in file: a prior (the same decorator as pgm/priors.py) and a plain pair
PLUGIN = """
import pyro
import pyro.distributions as dist
import torch
from torch import nn

import pgm
import pgm.nn.decoders

__version__ = "2.5"


class LaplacePrior(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.register_buffer("loc", torch.zeros(latent_dim))

    def forward(self):
        return dist.Laplace(self.loc, torch.ones_like(self.loc)).to_event(1)


@pgm.PRIORS.register("{tag}-laplace", "Laplace(0, 1) prior from a plug-in")
def _laplace(cfg):
    return LaplacePrior(cfg["latent_dim"])


class SmallEncoder(nn.Module):  # a network: an encoder and a decoder under one name
    def __init__(self, event_shape, num_levels, hidden_dims, out_features=None, activation="relu"):
        super().__init__()
        self.out_features = out_features or 12  # without out_features: the guide adds heads
        self.linear = nn.Linear(64, self.out_features)

    def forward(self, x):
        return self.linear(x.reshape(*x.shape[:-3], 64) / 16)


pgm.ENCODERS.register("{tag}-net")(SmallEncoder)
pgm.DECODERS.register("{tag}-net")(pgm.nn.decoders.MLPDecoder)  # (latent, dims, shape, k, act)


class Net(nn.Module):
    def __init__(self, d, k):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(d, k))


@pgm.register_model("{tag}-pixels", "independent categorical pixels, plain Pyro, no sampler")
def _pixels(cfg):
    d, k = 64, cfg["num_levels"]
    net = Net(d, k)

    def model(x):
        with pyro.plate("data", x.shape[0]):
            probs = dist.Categorical(logits=net.logits).to_event(1)
            pyro.sample("x", probs, obs=x.reshape(*x.shape[:-3], d))

    return pgm.plain_model(model, None, net, cfg, sample=False)
"""


@pytest.fixture(autouse=True)
def _forget_plugins():
    """Each test's plug-ins leave the (process-wide) registries as they were, so tests that
    enumerate every registered part see only the built-ins."""
    saved, keys = plugins.snapshot(), dict(MODEL_KEYS)
    yield
    plugins.restore(saved)
    MODEL_KEYS.clear()
    MODEL_KEYS.update(keys)


@pytest.fixture
def plugin_file(tmp_path):
    """A fresh plug-in file with names no other test uses (the registries are global)."""
    tag = f"t{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"plug_{tag}.py"
    path.write_text(textwrap.dedent(PLUGIN).replace("{tag}", tag))
    return path, tag


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_config_key_loads_a_plugin_and_the_run_records_it(tmp_path, plugin_file):
    path, tag = plugin_file
    toml = tmp_path / "conf.toml"
    toml.write_text(
        f'plugins = ["{path.name}"]\nprior = "{tag}-laplace"\nnetwork = "{tag}-net"\n'
        "latent_dim = 3\n"
    )
    config = load_config(toml)  # the relative path is read from the TOML file's folder
    assert config["plugins"] == [str(path.resolve())]
    cfg = resolve_config(config, image_shape=[1, 8, 8], num_levels=17)
    (record,) = cfg["plugins"]
    assert record["module"] == path.stem and record["version"] == "2.5"
    assert record["sha256"] == _sha256(path) and record["plugin"] == str(path.resolve())
    model = pgm.build(cfg)  # a VAE whose prior comes from the plug-in
    assert type(model.prior).__name__ == "LaplacePrior"
    assert type(model.posterior.encoder).__name__ == "SmallEncoder"  # a plug-in network
    assert pgm.PRIORS.origin(f"{tag}-laplace") == path.stem


def test_bad_plugin_names_are_refused_in_one_line(tmp_path):
    with pytest.raises(
        pgm.PluginError, match=r"^plugins: expected .*no module named 'no_such_plugin_xyz'"
    ):
        pgm.build({"plugins": ["no_such_plugin_xyz"], "image_shape": [1, 8, 8], "num_levels": 17})
    with pytest.raises(pgm.PluginError, match=r"^plugins: expected a list"):
        pgm.build({"plugins": "my_models", "image_shape": [1, 8, 8], "num_levels": 17})
    with pytest.raises(pgm.PluginError, match="found no file"):
        pgm.load_plugins(str(tmp_path / "missing.py"))


def test_suite_add_refuses_a_folder_without_a_run(tmp_path, capsys):
    missing = tmp_path / "not-a-run"
    argv = ["suite", "--out", str(tmp_path / "s"), "--models", "vae", "--add", str(missing)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "pgm suite: error: --add: expected run folders written by `pgm train`; "
        f"found no config.json in {missing}"
    )
    assert not (tmp_path / "s").exists()  # refused before anything was trained or written


def test_suite_add_refuses_a_run_of_other_data_before_training(tmp_path, capsys):
    from tiny_run import TINY_RUN

    other = tmp_path / "binary"
    train({**TINY_RUN, "data": "digits-binary"}, other, progress=False)
    argv = ["suite", "--out", str(tmp_path / "s"), "--models", "vae", "--add", str(other)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "pgm suite: error: --add: expected runs trained on the suite's data 'digits'; found "
        f"{other} trained on 'digits-binary'"
    )
    assert not (tmp_path / "s").exists()  # refused before anything was trained or written


def test_failed_import_takes_back_its_registrations(tmp_path):
    tag = f"t{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"broken_{tag}.py"
    path.write_text(
        f"import pgm\npgm.DATASETS.register('{tag}-data')(lambda *a, **k: None)\n1 / 0\n"
    )
    with pytest.raises(pgm.PluginError, match=r"ZeroDivisionError: division by zero \(line 3\)"):
        pgm.load_plugins(str(path))  # one line naming the plug-in, its error and line
    assert f"{tag}-data" not in pgm.DATASETS
    path.write_text(f"import pgm\npgm.DATASETS.register('{tag}-data')(lambda *a, **k: None)\n")
    pgm.load_plugins(str(path))  # fixed: loads in the same process, no "registered twice"
    assert f"{tag}-data" in pgm.DATASETS


def test_entry_point_plugins_load_lazily_and_are_recorded(tmp_path, monkeypatch):
    tag = f"t{uuid.uuid4().hex[:8]}"
    module = f"ep_{tag}"
    (tmp_path / f"{module}.py").write_text(
        "import pgm\nfrom pgm.priors import StandardNormalPrior\n"
        f"@pgm.PRIORS.register('{tag}-ep-prior')\n"
        "def _p(cfg):\n    return StandardNormalPrior(cfg['latent_dim'])\n"
    )
    info = tmp_path / f"pgm_ep_{tag}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pgm-ep-{tag}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(
        f"[pgm.plugins]\ndemo = {module}\nbroken = no_such_module_{tag}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(plugins._state, "entry_points", False)  # as in a fresh process
    with pytest.warns(pgm.PluginWarning, match=f"broken = no_such_module_{tag}"):
        assert f"{tag}-ep-prior" in pgm.PRIORS  # the first lookup loads the entry points
    assert module in plugins._ENTRY_POINTS
    cfg = pgm.resolve_model_config(
        {"prior": f"{tag}-ep-prior", "image_shape": [1, 8, 8], "num_levels": 17}
    )
    (record,) = cfg["plugins"]
    assert record["module"] == module and record["entry_point"] == f"demo = {module}"
    assert record["distribution"] == f"pgm-ep-{tag}" and record["version"] == "0.3"
    pgm.build(cfg)  # loading the record again is quiet: the entry point is already in


def test_plain_pair_through_cli_train_evaluate_sample_compare(tmp_path, plugin_file, capsys):
    """A fully observed plain pair entered with --plugin: trained, evaluated, compared with a
    built-in; it cannot sample, which the report notes in one line and `pgm sample` refuses."""
    path, tag = plugin_file
    conf = tmp_path / "pixels.toml"
    conf.write_text(
        f'model = "{tag}-pixels"\nepochs = 1\nnum_train = 128\nlr = 0.1\ndevice = "cpu"\n'
    )
    run = tmp_path / "pixels"
    assert (
        main(["train", str(conf), "--out", str(run), "--plugin", str(path), "--no-progress"]) == 0
    )
    saved = json.loads((run / "config.json").read_text())
    assert [r["module"] for r in saved["plugins"]] == [path.stem]
    # resuming checks the records against the plug-in named again: no config difference
    resume = ["train", "--out", str(run), "--resume", "--set", "epochs=2", "--plugin", str(path)]
    assert main([*resume, "--no-progress"]) == 0
    assert json.loads((run / "config.json").read_text())["plugins"] == saved["plugins"]
    # the run's record is checked against --plugin (test_trust_boundary: never loaded from it)
    evaluate = ["evaluate", str(run), "--plugin", str(path), "--num-images", "20", "--json"]
    assert main([*evaluate, "--no-progress"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["architecture"] == f"{tag}-pixels" and row["num_particles"] == 1
    assert math.isfinite(row["log_likelihood_nats"]) and row["elbo_nats"] is None
    assert main(["sample", str(run), "-n", "4"]) == 2
    assert "gives no sample(n)" in capsys.readouterr().err

    vae = tmp_path / "vae"
    vconf = tmp_path / "vae.toml"
    vconf.write_text(
        'latent_dim = 2\nhidden_dim = 16\nepochs = 1\nnum_train = 128\ndevice = "cpu"\n'
    )
    assert main(["train", str(vconf), "--out", str(vae), "--no-progress"]) == 0
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                str(run),
                str(vae),
                "--out",
                str(out),
                "-k",
                "4",
                "--num-images",
                "16",
                "--curve-images",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert {r["model"] for r in results["models"]} == {"pixels", "vae"}
    assert sorted(r["rank"] for r in results["models"]) == [1, 2]
    assert results["method"]["runs"]["pixels"]["plugins"] == [f"{path.stem} 2.5"]
    assert results["notes"] == ["pixels: no sample grid (the model gives no sample(n))"]
    assert not (out / "figures" / "samples-pixels.png").exists()
    assert (out / "figures" / "samples-vae.png").is_file()


def test_a_copy_of_the_plugin_given_by_plugin_serves_a_run_whose_file_still_exists(
    tmp_path, plugin_file, capsys
):
    """Another process passes --plugin with an identical copy (its sha256 the recorded one)
    while the recorded file still exists: the loaded copy is the run's code, and is used."""
    import os
    import shutil
    import subprocess

    path, tag = plugin_file
    conf = tmp_path / "c.toml"
    conf.write_text(f'model = "{tag}-pixels"\nepochs = 1\nnum_train = 64\ndevice = "cpu"\n')
    run = tmp_path / "run"
    argv = ["train", str(conf), "--out", str(run), "--plugin", str(path), "--no-progress"]
    assert main(argv) == 0
    copy = Path(shutil.copy(path, (tmp_path / "copy").mkdir() or tmp_path / "copy"))
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "pgm_cli", "evaluate", str(run), "--plugin", str(copy)]
        + ["--num-images", "4", "--no-progress", "--json"],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["num_images"] == 4


def test_example_plugin_ranks_with_the_suite(tmp_path, capsys):
    """examples/: the plain-Pyro Student-t VAE trained from its TOML (plug-in named by the
    config key), then `pgm suite --add` compares it with the standard set's VAE."""
    run = tmp_path / "student-t-vae"
    assert (
        main(
            [
                "train",
                str(EXAMPLES / "student_t_vae.toml"),
                "--out",
                str(run),
                "--set",
                "epochs=1",
                "--set",
                "num_train=128",
                "--set",
                "hidden_dim=32",
                "--set",
                "latent_dim=4",
                "--set",
                "device='cpu'",
                "--no-progress",
            ]
        )
        == 0
    )
    (record,) = json.loads((run / "config.json").read_text())["plugins"]
    assert record["module"] == "student_t_vae" and record["version"] == "0.1"
    assert record["sha256"] == _sha256(EXAMPLES / "student_t_vae.py")
    out = tmp_path / "suite"
    assert (
        main(
            [
                "suite",
                "--out",
                str(out),
                "--models",
                "vae",
                "--epochs-scale",
                "0.025",
                "--num-particles",
                "4",
                "--add",
                str(run),
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    rows = {r["model"]: r for r in results["models"]}
    assert set(rows) == {"vae", "student-t-vae"}
    assert sorted(r["rank"] for r in rows.values()) == [1, 2]
    st = rows["student-t-vae"]
    assert st["architecture"] == "student-t-vae" and st["latent_dim"] == 4
    assert st["elbo_nats"] <= st["log_likelihood_nats"] and st["active_units"] is not None
    assert "student-t-vae" in printed  # in the ranking table
    assert (out / "figures" / "samples-student-t-vae.png").is_file()  # sampled with x unobserved
    assert (out / "figures" / "reconstructions-student-t-vae.png").is_file()  # its encode/decode


def test_minimal_pair_example_matches_the_exact_likelihood(capsys):
    """examples/minimal_pair.py: z ~ N(0,1), x|z ~ N(z,1), log p(x) = log N(x; 0, 2). With
    K = 20000 (seed 0) the mean estimate over its 8 points is within 0.01 nats of exact, and
    training moves the guide to the exact posterior (a = 1/2, s^2 = 1/2) within 0.1."""
    example = runpy.run_path(str(EXAMPLES / "minimal_pair.py"))
    found = example["main"](num_particles=20_000, epochs=40)
    assert found["exact"] == pytest.approx(
        float(example["exact_log_likelihood"](example["POINTS"]).mean())
    )
    assert abs(found["estimate"] - found["exact"]) < 0.01
    assert abs(found["a"] - 0.5) < 0.1 and abs(found["s2"] - 0.5) < 0.1
    assert "exact" in capsys.readouterr().out


def test_plain_model_capabilities_are_optional():
    net = torch.nn.Linear(1, 1)

    def model(x):
        import pyro
        import pyro.distributions as dist

        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z[..., :1], 1.0).to_event(1), obs=x)

    def guide(x):
        import pyro
        import pyro.distributions as dist

        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(net(x).expand(*x.shape[:-1], 2), 1.0).to_event(1))

    m = pgm.plain_model(model, guide, net, image_shape=[1], num_levels=0)
    assert m.has_latents and m.latent_dim == 2 and m.can_sample
    assert m.sample(5).shape == (5, 1)  # the model run with x unobserved
    assert not hasattr(m, "encode")
    assert set(dict(m.named_parameters())) == {"network.weight", "network.bias"}
    with pytest.raises(TypeError, match="^module: expected the nn.Module"):
        pgm.plain_model(model, guide, object(), image_shape=[1], num_levels=0)
    with pytest.raises(ValueError, match="^image_shape: required"):
        pgm.plain_model(model, guide, net)


KEYED_PRIOR = """
import torch
import pyro.distributions as dist
from torch import nn

import pgm
from pgm.keys import Key


class ScaledNormal(nn.Module):
    def __init__(self, latent_dim, my_key):
        super().__init__()
        self.register_buffer("scale", torch.full((latent_dim,), float(my_key)))

    def forward(self):
        return dist.Normal(torch.zeros_like(self.scale), self.scale).to_event(1)


@pgm.PRIORS.register(
    "{tag}-scaled", "N(0, my_key^2 I)", keys=[Key("my_key", int, 1, low=1, help="the scale")]
)
def _scaled(cfg):
    return ScaledNormal(cfg["latent_dim"], cfg["my_key"])
"""


def test_a_plugin_file_alone_adds_a_prior_with_a_hyperparameter(tmp_path, capsys):
    """No edit of pgm: the prior declares its key where it is registered; `pgm train --set`
    accepts it, checks its bounds, and config.json records it."""
    tag = f"t{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"keyed_{tag}.py"
    path.write_text(textwrap.dedent(KEYED_PRIOR).replace("{tag}", tag))
    conf = tmp_path / "c.toml"
    conf.write_text('latent_dim = 2\nhidden_dim = 8\nnum_train = 50\nepochs = 1\ndevice = "cpu"\n')
    argv = ["train", str(conf), "--plugin", str(path), "--set", f"prior={tag}-scaled"]
    assert main([*argv, "--set", "my_key=0", "--out", str(tmp_path / "bad")]) == 2
    assert "my_key: expected an integer >= 1; found 0" in capsys.readouterr().err
    assert main([*argv, "--set", "my_key=3", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["prior"] == f"{tag}-scaled" and saved["my_key"] == 3
    # without the prior, the key is no layer's: refused
    assert main(["train", str(conf), "--set", "my_key=3", "--out", str(tmp_path / "x")]) == 2


def test_builtin_part_keys_are_declared_with_the_model_layers_defaults():
    from pgm.model_config import MODEL_DEFAULTS

    declared = [k for reg in all_registries().values() for n in reg for k in reg.keys(n)]
    assert {k.name for k in declared} >= {"num_components", "num_flows", "num_mixtures"}
    assert all(MODEL_DEFAULTS[k.name] == k.default for k in declared if k.name in MODEL_DEFAULTS)


def test_list_keys_shows_each_models_and_parts_keys_from_their_declarations(capsys):
    from pgm.registry_listing import describe

    assert main(["list", "vae", "--keys"]) == 0
    out = capsys.readouterr().out
    vamp = next(line for line in out.splitlines() if line.startswith("prior vamp"))
    assert vamp.split()[2:5] == ["num_components", "10", "[1,"]
    assert "size of the latent code z" in out
    assert main(["list", "pixelcnn", "--keys"]) == 0
    assert "prior vamp" not in capsys.readouterr().out  # a pixelcnn takes no prior
    assert describe("models", "vae") == "VAE: any prior x guide x likelihood"
    assert describe("model", "no-such-model") == ""
    # --json refuses an unknown model as the table does (it printed every model's keys, exit 0)
    assert main(["list", "no-such-model", "--keys", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "found 'no-such-model'" in captured.err


def test_a_plugin_part_cannot_give_pgms_own_key_another_default():
    """A plug-in prior declaring ``pseudo_inputs`` (pgm's own key) with another default would
    have it silently replaced by pgm's: refused in one line; the same default is accepted."""
    from pgm.keys import Key
    from pgm.registry import PRIORS

    def factory(cfg):  # pragma: no cover - never built
        raise AssertionError

    factory.__module__ = "a_plugin"
    clash, same = f"t{uuid.uuid4().hex[:8]}-clash", f"t{uuid.uuid4().hex[:8]}-same"
    PRIORS.register(clash, keys=[Key("pseudo_inputs", str, "hardtanh")])(factory)
    PRIORS.register(same, keys=[Key("num_components", int, 10, low=1)])(factory)
    base = {"image_shape": [1, 8, 8], "num_levels": 2}
    with pytest.raises(ValueError) as err:
        pgm.resolve_model_config({**base, "prior": clash})
    assert str(err.value) == (
        f"prior {clash!r}: expected its key 'pseudo_inputs' to keep pgm's default ('sigmoid': it "
        "is pgm's own model key, filled and checked by pgm) or to have a name of its own; found "
        "default 'hardtanh'"
    )
    assert pgm.resolve_model_config({**base, "prior": same})["num_components"] == 10


def test_a_plugin_part_cannot_declare_a_key_pgm_fills_with_none_or_another_layers_key():
    """pgm's own key with a None default (``latent_dim_top``) and keys of other layers (the
    training's ``lr``, the data's ``data``) were passed over: the factory silently got pgm's
    value (16, 0.002) for the part's declared 4 and 0.5. Each is refused in one line."""
    import inference  # noqa: F401  (declares the training layer's keys)
    from pgm.keys import Key
    from pgm.registry import PRIORS

    def factory(cfg):  # pragma: no cover - never built
        raise AssertionError

    factory.__module__ = "a_plugin"
    base = {"image_shape": [1, 8, 8], "num_levels": 2}
    for key, said in (
        (Key("latent_dim_top", int, 4), "expected its key 'latent_dim_top' to keep pgm's default"),
        (Key("lr", float, 0.5), "found 'lr', a key of the training layer"),
        (Key("data", str, "x"), "found 'data', a key of the data layer"),
    ):
        name = f"t{uuid.uuid4().hex[:8]}-{key.name}"
        PRIORS.register(name, keys=[key])(factory)
        with pytest.raises(ValueError) as err:
            pgm.resolve_model_config({**base, "prior": name})
        assert said in str(err.value) and str(err.value).startswith(f"prior {name!r}: ")
    name = f"t{uuid.uuid4().hex[:8]}-two"  # two clashes are named at once, not one per try
    PRIORS.register(name, keys=[Key("lr", float, 0.5), Key("latent_dim_top", int, 4)])(factory)
    with pytest.raises(ValueError) as err:
        pgm.resolve_model_config({**base, "prior": name})
    assert "'lr', a key of the training layer" in str(err.value)
    assert "its key 'latent_dim_top'" in str(err.value)


def test_two_parts_must_agree_on_a_key_both_read_and_all_clashes_are_named():
    """Prior p-k declaring ``shared_k`` (int, 1) and likelihood l-k declaring it (int, 2): both
    got 2 without a word. Refused, naming both parts, together with every other part's clash
    (only the first part's clashes were named)."""
    import inference  # noqa: F401  (declares the training layer's keys)
    from pgm.keys import Key
    from pgm.registry import LIKELIHOODS, PRIORS

    def factory(cfg):  # pragma: no cover - never built
        raise AssertionError

    factory.__module__ = "a_plugin"
    tag = uuid.uuid4().hex[:8]
    prior, likelihood = f"t{tag}-p", f"t{tag}-l"
    PRIORS.register(prior, keys=[Key(f"shared_{tag}", int, 1), Key("plugins", list, [])])(factory)
    LIKELIHOODS.register(likelihood, keys=[Key(f"shared_{tag}", int, 2), Key("epochs", int, 3)])(
        factory
    )
    base = {"image_shape": [1, 8, 8], "num_levels": 2}
    with pytest.raises(ValueError) as err:
        pgm.resolve_model_config({**base, "prior": prior, "likelihood": likelihood})
    said = str(err.value)
    assert f"prior {prior!r}: expected its keys to be model keys" in said  # plugins: pgm's
    assert f"likelihood {likelihood!r}: expected its keys" in said and "'epochs'" in said
    assert f"prior {prior!r} and likelihood {likelihood!r}: expected one default and type" in said


def test_a_plugin_model_cannot_declare_another_layers_key(capsys):
    """``register_model(config={"lr": 0.5, "data": ...})``: the run trained with the training's
    lr and recorded it, and ``pgm list --keys`` showed 0.5. Refused in one line naming every
    such key; the listing warns and still lists the model."""
    import inference  # noqa: F401

    name = f"t{uuid.uuid4().hex[:8]}-model"

    @pgm.register_model(name, "clashing", config={"lr": 0.5, "data": "x", "my_width": 8})
    def build(cfg):  # pragma: no cover - never built
        raise AssertionError

    with pytest.raises(ValueError) as err:
        pgm.resolve_model_config({"image_shape": [1, 8, 8], "num_levels": 2, "model": name})
    said = str(err.value)
    assert said.startswith(f"model {name!r}: expected its own keys to be model keys")
    assert "'lr', a key of the training layer" in said and "'data', a key of the data layer" in said
    assert "my_width" not in said
    with pytest.warns(pgm.PluginWarning, match=f"model {name!r}.*pgm train refuses this model"):
        assert main(["list", name, "--keys"]) == 0
    assert "my_width" in capsys.readouterr().out


def test_list_keys_warns_of_a_plugin_part_that_train_refuses(capsys):
    """``pgm list --keys`` listed a plug-in part giving pgm's own key another default without a
    word, though ``pgm train`` refuses it: one warning line for each such key, worded as the
    refusal (the same check), once however many models list the part."""
    from pgm.keys import Key
    from pgm.registry import PRIORS

    def factory(cfg):  # pragma: no cover - never built
        raise AssertionError

    factory.__module__ = "a_plugin"
    clash, same = f"t{uuid.uuid4().hex[:8]}-clash", f"t{uuid.uuid4().hex[:8]}-same"
    keys = [Key("pseudo_inputs", str, "hardtanh"), Key("num_components", int, 3, low=1)]
    PRIORS.register(clash, keys=keys)(factory)
    PRIORS.register(same, keys=[Key("num_components", int, 10, low=1)])(factory)
    base = {"image_shape": [1, 8, 8], "num_levels": 2}
    with pytest.raises(ValueError, match="'pseudo_inputs'.*; prior .*'num_components'"):
        pgm.resolve_model_config({**base, "prior": clash})
    for argv in (["list", "--keys"], ["list", "vae", "--keys", "--json"]):
        with pytest.warns(pgm.PluginWarning) as caught:
            assert main(argv) == 0
        said = [str(w.message) for w in caught if issubclass(w.category, pgm.PluginWarning)]
        assert said == [  # the refusal names both clashes at once; the listing one a line
            f"prior {clash!r}: expected its key 'pseudo_inputs' to keep pgm's default ('sigmoid': "
            "it is pgm's own model key, filled and checked by pgm) or to have a name of its own; "
            "found default 'hardtanh' (pgm train refuses this part)",
            f"prior {clash!r}: expected its key 'num_components' to keep pgm's default (10: it is "
            "pgm's own model key, filled and checked by pgm) or to have a name of its own; found "
            "default 3 (pgm train refuses this part)",
        ]
        assert clash in capsys.readouterr().out  # still listed
    with warnings.catch_warnings():
        warnings.simplefilter("error", pgm.PluginWarning)
        assert main(["list", "pixelcnn", "--keys"]) == 0  # a pixelcnn takes no prior
