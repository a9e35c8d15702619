"""How the built-in encoders read pixels (``encoder_input``): levels scaled to [-1, 1]
("centred", the default, what every run recorded before the key was trained with) or to [0, 1]
("unit", what the shipped binarized-MNIST configs use). A run recorded before the key is
loaded, trained again and resumed as it was trained."""

import json

import pytest
import torch

import pgm
from inference.checkpoint import load_tensors, save_tensors
from inference.run import load_run, train
from inference.run_config import train_config
from pgm.errors import PgmError
from pgm.nn.encoders import scale_pixels
from tests.tiny_run import TINY_RUN


def test_scale_pixels_maps_levels_to_the_unit_or_the_centred_interval():
    x = torch.tensor([0.0, 8.0, 16.0])
    assert scale_pixels(x, 17, centred=False).tolist() == [0.0, 0.5, 1.0]
    assert scale_pixels(x, 17, centred=True).tolist() == [-1.0, 0.0, 1.0]
    assert scale_pixels(torch.tensor([0.0, 1.0]), 2, centred=False).tolist() == [0.0, 1.0]
    real = torch.tensor([0.3, -2.0])
    assert torch.equal(scale_pixels(real, 0, centred=False), real)  # no levels: unchanged


def _encoders(model):
    return [m for m in model.modules() if hasattr(m, "centred")]


@pytest.mark.parametrize("network", ["mlp", "gated-mlp", "conv"])
def test_the_key_reaches_every_built_in_encoder(network):
    cfg = {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17, "network": network}
    x = torch.randint(0, 17, (3, 1, 8, 8)).float()
    torch.manual_seed(0)
    centred = _encoders(pgm.build(cfg))
    torch.manual_seed(0)
    unit = _encoders(pgm.build({**cfg, "encoder_input": "unit"}))
    assert centred and all(m.centred for m in centred)  # the default is "centred"
    assert unit and not any(m.centred for m in unit)
    # the same weights (same seed), the other mapping: another output
    assert torch.equal(
        unit[0].state_dict()[next(iter(unit[0].state_dict()))],
        centred[0].state_dict()[next(iter(centred[0].state_dict()))],
    )
    assert not torch.allclose(unit[0](x), centred[0](x))


def test_a_bad_value_is_refused_naming_the_key():
    with pytest.raises(PgmError, match="encoder_input"):
        pgm.build(
            {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17, "encoder_input": "signed"}
        )


def test_the_shipped_binarized_mnist_configs_read_unit_pixels():
    from inference.config import load_config
    from pgm.configs import resolve_config_path

    def shipped(name):
        return load_config(resolve_config_path(name))

    for name in ("vae-binarized-mnist", "iwae-binarized-mnist"):
        assert shipped(name)["encoder_input"] == "unit"
    # the VampPrior rows and the IWAE row, as their authors' code (jmtomczak/vae_vampprior,
    # yburda/iwae) feeds its encoders
    rows = ("vae-vampprior-paper", "vamp-1layer", "hvae-vamp", "convhvae-vamp", "pixelhvae-vamp")
    rows += ("iwae-1layer",)
    for row in rows:
        assert shipped(f"papers/{row}")["encoder_input"] == "unit", row
    assert "encoder_input" not in shipped("vae-digits")  # digits: the default, centred


def _strip_the_key(run):
    """Make a run look recorded by pgm 0.1.0: no encoder_input in config.json or the weights."""
    cfg = json.loads((run / "config.json").read_text())
    del cfg["encoder_input"]
    (run / "config.json").write_text(json.dumps(cfg))
    for path in [run / "model.safetensors", *sorted((run / "checkpoints").glob("*.safetensors"))]:
        tensors, meta = load_tensors(path)
        if isinstance(meta.get("config"), dict):
            meta["config"].pop("encoder_input", None)
        save_tensors(path, tensors, meta)


def test_a_run_recorded_before_the_key_is_read_as_it_was_trained(tmp_path):
    run = tmp_path / "old"
    train(TINY_RUN, run, progress=False)
    assert json.loads((run / "config.json").read_text())["encoder_input"] == "centred"
    model, _ = load_run(run)
    x = torch.randint(0, 17, (4, 1, 8, 8)).float()
    before = _encoders(model)[0](x)
    _strip_the_key(run)
    assert "encoder_input" not in json.loads((run / "config.json").read_text())

    old, _ = load_run(run)
    assert all(m.centred for m in _encoders(old))
    assert torch.equal(_encoders(old)[0](x), before)  # the same function as before
    # trained again from its record (--from, or its config.json): as it was trained
    again = train_config(None, tmp_path / "new", False, [], from_run=run)
    assert all(m.centred for m in _encoders(pgm.build(again)))
    again = train_config(str(run / "config.json"), tmp_path / "n2", False, [])
    assert all(m.centred for m in _encoders(pgm.build(again)))
    # resumed with more epochs: accepted, and the record now names the key
    train(
        {**json.loads((run / "config.json").read_text()), "epochs": 2},
        run,
        resume=True,
        progress=False,
    )
    assert json.loads((run / "config.json").read_text())["encoder_input"] == "centred"


def test_resuming_a_run_with_the_other_mapping_is_refused_naming_the_key(tmp_path):
    run = tmp_path / "old"
    train(TINY_RUN, run, progress=False)
    _strip_the_key(run)
    with pytest.raises(PgmError, match=r"encoder_input \(run has 'centred', given 'unit'\)"):
        train({**TINY_RUN, "epochs": 2, "encoder_input": "unit"}, run, resume=True, progress=False)


def test_a_run_recorded_before_the_key_is_a_seed_of_the_same_config_trained_today(tmp_path):
    """The 3-seed suite reused its seed-0 runs from before the key and trained seeds 1 and 2
    today: they are replicates of one model (their configs differ only in seed)."""
    from evaluation.replicates import replicate_key

    old, new = tmp_path / "old", tmp_path / "new"
    train(TINY_RUN, old, progress=False)
    train({**TINY_RUN, "seed": 2}, new, progress=False)
    _strip_the_key(old)
    (_, a), (_, b) = load_run(old), load_run(new)
    assert a["encoder_input"] == "centred"
    assert replicate_key(a) == replicate_key(b)


def test_a_plug_in_encoder_or_real_valued_data_does_not_read_the_key(tmp_path):
    """A plug-in encoder gets the integer levels and scales them itself; real-valued data reaches
    every encoder unchanged: encoder_input is warned as not applying, not recorded, and two runs
    that differ in it only (one recorded before this fix) are seeds of one model."""
    from torch import nn

    from evaluation.replicates import group_runs, replicate_key
    from pgm.model_config import inapplicable_keys, recorded_config

    class Plain(nn.Module):
        def __init__(self, event_shape, num_levels, hidden_dims, out_features=None, act="relu"):
            super().__init__()
            self.out_features = out_features or hidden_dims[-1]

    pgm.ENCODERS.register("qa3-plain-net")(Plain)
    try:
        cfg = {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17}
        plug = {**cfg, "network": "qa3-plain-net", "encoder_input": "unit"}
        assert "encoder_input" in inapplicable_keys(plug)
        assert "encoder_input" not in recorded_config({**cfg, "network": "qa3-plain-net"})
        assert replicate_key(plug) == replicate_key({**plug, "encoder_input": "centred"})
        # grouped by hand: not warned as differing in a key neither run reads
        runs = [
            ("a", tmp_path / "a", {**plug, "seed": 0}),
            ("b", tmp_path / "b", {**plug, "seed": 1}),
        ]
        runs[1][2]["encoder_input"] = "centred"
        assert group_runs(runs, {"m": ["a", "b"]})[0].config_differences == []
    finally:
        pgm.ENCODERS.unregister("qa3-plain-net")
    assert "encoder_input" in inapplicable_keys({**cfg, "num_levels": 0, "encoder_input": "unit"})
    assert "encoder_input" not in inapplicable_keys({**cfg, "encoder_input": "unit"})
    assert replicate_key({**cfg, "encoder_input": "unit"}) != replicate_key(
        {**cfg, "encoder_input": "centred"}
    )


def test_a_model_of_seeds_is_not_named_after_a_run_outside_it(tmp_path):
    """replicate_of (idata.nc) and the seeds table name a model: runs a-seed0 and a-seed1 of one
    config, and a run named a of another, made the seeds' model 'a' and run a's model 'a#2'."""
    from evaluation.replicates import group_runs

    cfg = {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17}
    runs = [
        ("a-seed0", tmp_path / "s0", {**cfg, "seed": 0}),
        ("a-seed1", tmp_path / "s1", {**cfg, "seed": 1}),
        ("a", tmp_path / "a", {**cfg, "latent_dim": 3, "seed": 0}),
    ]
    groups = {tuple(g.runs): g.model for g in group_runs(runs)}
    assert groups[("a",)] == "a"
    assert groups[("a-seed0", "a-seed1")] == "a#2"


def test_the_warning_says_why_the_key_does_not_apply():
    from inference.config import _encoder_note

    pgm.ENCODERS.register("qa3-note-net")(object)
    try:
        note = _encoder_note({"model": "vae", "num_levels": 17, "network": "qa3-note-net"})
        assert note == " with the plug-in encoder 'qa3-note-net'"
    finally:
        pgm.ENCODERS.unregister("qa3-note-net")
    assert "real-valued" in _encoder_note({"model": "vae", "num_levels": 0, "network": "mlp"})
    assert _encoder_note({"model": "pixelcnn", "num_levels": 0}) == ""
    assert _encoder_note({"model": "pixelcnn", "num_levels": 17, "network": "mlp"}) == ""


def test_recorded_config_takes_one_key_by_name():
    from pgm.model_config import recorded_config

    assert recorded_config({"model": "vae"}, "encoder_input") == {
        "model": "vae",
        "encoder_input": "centred",
    }
    assert recorded_config({"model": "vae"}, ["encoder_input"])["encoder_input"] == "centred"


def test_a_copied_autoencoder_run_is_warned_as_one_network():
    """The same-config-and-seed warning covered the density runs only: two copies of one
    autoencoder run were listed in the representation table as two networks without a word."""
    from types import SimpleNamespace

    from evaluation.sections.seeds import compute

    cfg = {"model": "autoencoder", "image_shape": [1, 8, 8], "num_levels": 17, "seed": 0}
    runs = [SimpleNamespace(name=n, cfg=dict(cfg)) for n in ("ae", "ae-copy")]
    c = SimpleNamespace(runs=runs, dense=[], warnings=[])
    compute(c)
    (warning,) = c.warnings
    assert warning["message"].startswith("ae, ae-copy: the same config and the same seed")


def test_from_refuses_a_config_json_edited_since_its_weights(tmp_path):
    """``pgm train --from RUN`` read config.json alone: encoder_input added by hand to a run
    that predates it trained a unit-input model under the run's name (loading it is refused)."""
    run = tmp_path / "old"
    train(TINY_RUN, run, progress=False)
    _strip_the_key(run)
    assert "encoder_input" not in train_config(None, tmp_path / "a", False, [], from_run=run)
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**cfg, "encoder_input": "unit"}))
    with pytest.raises(PgmError, match=r"^--from: .* encoder_input \(run has 'centred'"):
        train_config(None, tmp_path / "b", False, [], from_run=run)
    # a --set on top of the run's own config is the user's choice, not an edit
    (run / "config.json").write_text(json.dumps(cfg))
    sets = ['encoder_input="unit"']
    assert train_config(None, tmp_path / "c", False, sets, from_run=run)["encoder_input"] == "unit"
