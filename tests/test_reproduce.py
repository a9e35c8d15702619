"""``pgm reproduce``: the recipes of configs/papers (one per row of the literature table, each
citing its paper), each recipe building and taking SVI steps on a tiny slice of real binarized
MNIST, and the command end to end on digits with a tiny budget: table, figures, resume, and
the split it was measured on said out loud."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

import pgm
from evaluation.log_likelihood import estimate
from evaluation.report import format_value
from evaluation.reproduce import ROWS, list_recipes, load_recipe
from inference import Trainer, resolve_config
from pgm_cli.main import main

#: The papers' table: published test log-likelihood (nats) per row.
PUBLISHED = {
    "vae-vampprior-paper": -88.56,
    "vamp-1layer": -85.57,
    "hvae-vamp": -83.19,
    "convhvae-vamp": -81.09,
    "pixelhvae-vamp": -79.78,
    "iwae-1layer": -87.10,
    "pixelcnn": -81.30,
    "row-lstm": -80.54,
    "diagonal-bilstm": -79.20,
    "pixelvae": -79.02,
}
TINY = [
    "--data",
    "digits-binary",
    "--set",
    "num_train=64",
    "--set",
    "num_components=4",
    "--set",
    "hidden_dims=[16]",
    "--num-particles",
    "5",
    "--num-images",
    "20",
    "--no-progress",
]


def test_every_row_has_a_recipe_with_its_published_number():
    recipes = {r.row: r for r in list_recipes()}
    assert list(recipes) == list(ROWS) and set(ROWS) == set(PUBLISHED)
    for row, recipe in recipes.items():
        assert recipe.published_nats == PUBLISHED[row]
        assert recipe.device_class in ("cpu", "gpu")
        assert recipe.config["data"] == "binarized-mnist"
        header = recipe.path.read_text().split("\ndata =")[0]
        assert "Table" in header or "Sec." in header, (
            f"{row}: the header must cite the paper's table/section"
        )
        assert "Device:" in header and f"pgm reproduce {row}" in header
    latent = [r for r in recipes.values() if r.config.get("model") in ("vae", "hvae", "pixelvae")]
    assert all(r.paper["eval_particles"] == 5000 for r in latent)


def test_list_prints_every_row(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for row, nats in PUBLISHED.items():
        line = next(line for line in out.splitlines() if line.startswith(row + " "))
        assert f"{nats:.2f}" in line and (" cpu" in line or " gpu" in line)
    assert "2000" in out and "3280" in out  # the recipes' epochs


@pytest.mark.parametrize("row", ROWS)
def test_recipe_builds_and_takes_svi_steps_on_real_data(row, shared_data):
    """The recipe's own model (full size) on 8 real binarized-MNIST images: two SVI steps of
    4 images give a finite loss and move the weights, and the shared estimator scores it."""
    recipe = load_recipe(row)
    model_name = recipe.config.get("model", "vae")
    if model_name not in pgm.MODELS:
        pytest.skip(f"model {model_name!r} is not registered on this branch (row {row} needs it)")
    train = pgm.load_dataset("binarized-mnist", "train", shared_data).subset(8).float_images()
    cfg = resolve_config(
        {
            **recipe.config,
            "epochs": 1,
            "batch_size": 4,
            "device": "cpu",
            "num_particles": min(recipe.config.get("num_particles", 1), 5),
        },
        image_shape=[1, 28, 28],
        num_levels=2,
    )
    torch.manual_seed(0)
    model = pgm.build(cfg)
    before = [p.detach().clone() for p in model.parameters()]
    result = Trainer(cfg, model).fit(train, train[:4], progress=False)
    assert math.isfinite(result.metrics[0]["train_loss"]) and math.isfinite(
        result.metrics[0]["valid_loss"]
    )
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    ll = estimate(model, None, train[:2], 2).log_likelihood
    assert torch.isfinite(ll).all() and (ll < 0).all()


def test_reproduce_end_to_end_on_digits_with_a_tiny_budget(tmp_path, capsys, monkeypatch):
    out = tmp_path / "repro"
    rows = ["vae-vampprior-paper", "pixelcnn"]
    assert (
        main(
            [
                "reproduce",
                *rows,
                "--out",
                str(out),
                "--max-epochs",
                "1",
                "--set",
                "num_layers=2",
                *TINY,
            ]
        )
        == 0
    )
    table = json.loads((out / "reproduction.json").read_text())["rows"]
    assert [r["row"] for r in table] == rows
    for r in table:
        assert r["published_nats"] == PUBLISHED[r["row"]]
        assert (
            math.isfinite(r["measured_nats"]) and r["ci95"][0] <= r["measured_nats"] <= r["ci95"][1]
        )
        assert r["gap_nats"] == pytest.approx(r["measured_nats"] - r["published_nats"])
        assert r["epochs_run"] == 1 and r["recipe_epochs"] in (2000, 200)
        assert r["cut_short"] and r["stopped"] == "max-epochs"
        assert r["split"] == "test" and r["num_images"] == 20 and r["device"] == "cpu"
        assert len(r["valid_curve"]) == 1
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{r['row']}-learning-curve.{ext}").stat().st_size > 1000
    assert [r["num_particles"] for r in table] == [5, 1]  # exact for the PixelCNN
    md = (out / "reproduction.md").read_text()
    assert (
        f"| vae-vampprior-paper | vae | {format_value(-88.56, '.2f')} |" in md
        and "cut short (max-epochs)" in md
    )
    assert "digits-binary, not the papers' binarized MNIST" in md
    # the --set changes each row took are named: a modified recipe is not the paper's row
    assert table[0]["overrides"] == {"hidden_dims": [16], "num_train": 64}
    assert table[1]["overrides"] == {"num_layers": 2, "num_train": 64}
    assert (
        "(by --set, or before the recipe was changed): vae-vampprior-paper: "
        "hidden_dims (run has [16], recipe [300, 300])" in md
    )
    assert table[1]["recipe_differences"] == [
        "num_layers (run has 2, recipe 15)",
        "num_train (run has 64, recipe 0 (all))",
    ]
    html = (out / "reproduction.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and format_value(-81.30, ".2f") in html
    capsys.readouterr()

    # a second call without --resume is refused, naming --resume; with it, the row carries on
    again = ["reproduce", "vae-vampprior-paper", "--out", str(out), "--max-epochs", "2"]
    again += ["--set", "num_layers=2", *TINY]
    assert main(again) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*again, "--resume"]) == 0
    table = json.loads((out / "reproduction.json").read_text())["rows"]
    first = table[0]
    assert (
        first["row"] == "vae-vampprior-paper"
        and first["epochs_run"] == 2
        and len(first["valid_curve"]) == 2
    )
    assert [r["row"] for r in table] == rows  # the other row stays in the table
    (_, v1), (_, v2) = first["valid_curve"]
    assert first["recent_gain_per_epoch"] == pytest.approx(v2 - v1)  # the plateau indicator
    lines = (out / "vae-vampprior-paper" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["kl_weight"] for line in lines] == [
        0.01,
        0.02,
    ]  # warm-up over 100 epochs

    # the recipe edited after the row trained (its lr, here): the rewritten table says the row
    # is not the recipe's any more, though no --set changed that key
    import shutil

    import evaluation.recipes as recipes
    from evaluation.reproduction_table import write_table

    edited = tmp_path / "recipes"
    shutil.copytree(recipes.RECIPE_DIR, edited)
    toml = edited / "vae-vampprior-paper.toml"
    toml.write_text(toml.read_text().replace("lr = 5e-4", "lr = 1e-3"))
    monkeypatch.setattr(recipes, "RECIPE_DIR", edited)
    first = write_table(out)[0]
    assert "lr (run has 0.0005, recipe 0.001)" in first["recipe_differences"]
    assert "lr (run has 0.0005, recipe 0.001)" in (out / "reproduction.md").read_text()


def test_reproduce_says_when_it_measures_on_the_validation_split(tmp_path):
    """A binarized_mnist.npz without a 'test' array (held back): the validation split is used
    and the row and the table say so."""
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    np.savez(
        data / "binarized_mnist.npz",
        train=rng.integers(0, 2, (40, 784)).astype(np.uint8),
        valid=rng.integers(0, 2, (12, 784)).astype(np.uint8),
    )
    out = tmp_path / "repro"
    assert (
        main(
            [
                "reproduce",
                "vae-vampprior-paper",
                "--out",
                str(out),
                "--data-dir",
                str(data),
                "--max-epochs",
                "1",
                "--set",
                "hidden_dims=[8]",
                "--num-particles",
                "3",
                "--no-progress",
            ]
        )
        == 0
    )
    row = json.loads((out / "reproduction.json").read_text())["rows"][0]
    assert (
        row["split"] == "valid"
        and row["num_images"] == 12
        and "validation split" in row["split_note"]
    )
    assert "measured on the validation split" in (out / "reproduction.md").read_text()


def test_bad_rows_are_refused(tmp_path, capsys):
    assert main(["reproduce", "no-such-row", "--out", str(tmp_path / "x")]) == 2
    assert "row: expected one of vae-vampprior-paper" in capsys.readouterr().err
    assert (
        main(
            [
                "reproduce",
                "pixelcnn",
                "--max-epochs",
                "1",
                "--time-budget",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert not (tmp_path / "x").exists()


def test_a_resumed_row_trained_otherwise_is_refused_before_any_row_trains(tmp_path, capsys):
    """``--resume`` of a row whose run differs from its recipe with this command's --set (the
    recipe changed since it trained) is refused in one line naming the row, before the rows
    listed ahead of it train; the table notes a run planned shorter than its recipe, and says
    when a row's config.json cannot be read."""
    from evaluation.reproduction_table import write_table

    out = tmp_path / "repro"
    first = ["reproduce", "vae-vampprior-paper", "--out", str(out), "--max-epochs", "1"]
    assert main([*first, "--set", "epochs=3", *TINY]) == 0
    row = json.loads((out / "reproduction.json").read_text())["rows"][0]
    assert "epochs (run has 3, recipe 2000)" in row["recipe_differences"]
    capsys.readouterr()

    again = ["reproduce", "pixelcnn", "vae-vampprior-paper", "--out", str(out), "--resume"]
    again += ["--max-epochs", "2", "--set", "epochs=3", "--set", 'encoder_input="centred"']
    assert main([*again, *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("pgm reproduce: error: --resume: expected row vae-vampprior-paper (")
        and "encoder_input (run has 'unit', this command 'centred')" in err
    )
    assert "\n" not in err and not (out / "pixelcnn").exists()  # nothing trained first
    # a bad --set value is the command's, not the run's config.json
    assert main([*again[:-2], "--set", 'seed="15"', *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "the recipe with this command's --set: seed: expected an integer; found '15'"
    )

    assert row["epochs_run"] == 1 and row["recipe_epochs"] == 2000  # the recipe's, not the run's

    # an unreadable config.json is refused up front too, naming the row
    config = out / "vae-vampprior-paper" / "config.json"
    saved = config.read_text()
    config.write_text("{not json")
    assert main([*again[:-2], *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pgm reproduce: error: --resume: row vae-vampprior-paper: ")
    assert "\n" not in err and not (out / "pixelcnn").exists()
    config.write_text(saved)

    # a row file missing what the table reads is refused before anything trains
    row_file = out / "vae-vampprior-paper" / "reproduction.json"
    kept = row_file.read_text()
    row_file.write_text('{"row": "vae-vampprior-paper"}')
    assert main([*again[:-2], *TINY]) == 2
    assert "missing, of the wrong type or out of range" in capsys.readouterr().err
    assert not (out / "pixelcnn").exists()
    row_file.write_text(kept)

    config.unlink()
    write_table(out)
    md = (out / "reproduction.md").read_text()
    assert "not compared with its recipe (its config.json missing, unreadable or invalid" in md
    assert "so other differences unknown" in md
    row = json.loads(row_file.read_text())
    row["overrides"] = {}  # and with no --set recorded, nothing is known at all
    row_file.write_text(json.dumps(row))
    write_table(out)
    md = (out / "reproduction.md").read_text()
    assert "Whether vae-vampprior-paper trained by its recipe is unknown" in md
    assert "Trained otherwise" not in md


def test_another_seed_is_noted_as_a_run_of_the_recipe_not_a_modified_recipe():
    from evaluation.reproduction_table import _notes

    def row(name, differences):
        return {
            "row": name,
            "split_note": "",
            "data": "binarized-mnist",
            "recipe_differences": differences,
            "cut_short": False,
        }

    notes = " ".join(_notes([row("vamp-1layer", ["seed (run has 15, recipe 14)"])]))
    assert "another seed than their recipe's: vamp-1layer: seed (run has 15, recipe 14)." in notes
    assert "Trained otherwise" not in notes
    notes = " ".join(
        _notes(
            [row("hvae-vamp", ["lr (run has 0.001, recipe 0.0005)", "seed (run has 2, recipe 14)"])]
        )
    )
    assert "Trained otherwise than their recipes" in notes
    assert "hvae-vamp: lr (run has 0.001, recipe 0.0005)." in notes
    # a missing or non-integer seed is not "another run of the recipe"
    for odd in ["seed (run has None, recipe 14)", "seed (run has '14', recipe 14)"]:
        notes = " ".join(_notes([row("vamp-1layer", [odd])]))
        assert "another seed" not in notes and f"vamp-1layer: {odd}" in notes


def test_resuming_a_finished_row_never_replaces_its_score_with_a_weaker_one(tmp_path, capsys):
    """A row this command will not train further keeps its weights, so ``--resume`` may score
    it again only on as much evidence (K, images) or more; fewer is refused in one line, the row
    unchanged. A row that trains on (cut short, or more epochs planned) is scored with any K;
    one that --max-epochs keeps where it is is guarded too. Hand-edited counts are refused."""
    out = tmp_path / "repro"
    first = ["reproduce", "vae-vampprior-paper", "--out", str(out), "--set", "epochs=1"]
    assert main([*first, *TINY]) == 0
    row_file = out / "vae-vampprior-paper" / "reproduction.json"
    before = row_file.read_text()
    assert json.loads(before)["cut_short"] is False  # its (shortened) recipe's end
    capsys.readouterr()
    for weaker in (["--num-particles", "3"], ["--num-images", "10"]):
        assert main([*first, "--resume", *TINY, *weaker]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(
            "pgm reproduce: error: --resume: row vae-vampprior-paper has run the 1 epoch this "
            "command plans, so its weights stay as scored: K = 5 on 20 images ("
        )
        assert "\n" not in err and row_file.read_text() == before
    # a hand-edited count cannot open the way: refused as a malformed row
    for odd in ('"360"', "360.0", "null", "true", "-5", "0"):
        row_file.write_text(before.replace('"num_images": 20', f'"num_images": {odd}'))
        assert main([*first, "--resume", *TINY, "--num-images", "5"]) == 2
        assert "num_images missing, of the wrong type or out of range" in capsys.readouterr().err
    row_file.write_text(before.replace('"epochs_run": 1', '"epochs_run": -3'))
    assert main([*first, "--resume", *TINY, "--num-particles", "3"]) == 2
    assert "epochs_run missing, of the wrong type or out of range" in capsys.readouterr().err
    row_file.write_text(before)
    assert main([*first, "--resume", *TINY, "--num-particles", "9"]) == 0
    assert json.loads(row_file.read_text())["num_particles"] == 9  # more evidence: re-scored
    # more epochs planned: it trains on, so any K scores it afresh
    assert main([*first[:-1], "epochs=2", "--resume", *TINY, "--num-particles", "2"]) == 0
    row = json.loads(row_file.read_text())
    assert row["num_particles"] == 2 and row["epochs_run"] == 2

    # cut short: it trains on when resumed, so its score is replaced whatever K is given
    short = ["reproduce", "vae-vampprior-paper", "--out", str(tmp_path / "short")]
    short += ["--set", "epochs=3", "--max-epochs", "1"]
    assert main([*short, *TINY]) == 0
    assert main([*short[:-1], "2", "--resume", *TINY, "--num-particles", "2"]) == 0
    row = json.loads((tmp_path / "short" / "vae-vampprior-paper" / "reproduction.json").read_text())
    assert row["num_particles"] == 2 and row["epochs_run"] == 2
    # resumed again with the same --max-epochs: no more training, so the guard holds
    capsys.readouterr()
    assert main([*short[:-1], "2", "--resume", *TINY, "--num-particles", "1"]) == 2
    err = capsys.readouterr().err
    assert "has run the 2 epochs --max-epochs allows, so its weights stay" in err


def test_list_with_out_says_what_each_row_reached_there(tmp_path, capsys):
    out = tmp_path / "repro"
    argv = ["reproduce", "vae-vampprior-paper", "--out", str(out), "--set", "epochs=3"]
    assert main([*argv, "--max-epochs", "1", *TINY]) == 0
    measured = json.loads((out / "vae-vampprior-paper" / "reproduction.json").read_text())
    # the run's summary in words (a JSON line with --json)
    (said,) = capsys.readouterr().out.splitlines()
    nats, gap = (
        format_value(measured["measured_nats"], ".2f"),
        format_value(measured["gap_nats"], "+.2f"),
    )
    lo, hi = (format_value(v, ".2f") for v in measured["ci95"])
    assert said == (
        f"vae-vampprior-paper: {nats} nats [{lo}, {hi}] on test (K = 5, "
        f"{measured['num_images']} images); published −88.56 (test), gap {gap}; 1 of 3 "
        "epochs, stopped by max-epochs (cut short: --resume continues it)"
    )
    assert (
        main([*argv[:3], str(tmp_path / "json"), *argv[4:], "--max-epochs", "1", "--json", *TINY])
        == 0
    )
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["row"] == "vae-vampprior-paper" and json.loads(line)["epochs_run"] == 1
    assert main(["reproduce", "--list", "--json"]) == 2  # a run's option, said, not ignored
    assert "found --json, which only a run of rows reads" in capsys.readouterr().err
    (out / "pixelcnn").mkdir()
    (out / "pixelcnn" / "config.json").write_text("{}")  # begun (killed before its score)
    capsys.readouterr()
    assert main(["reproduce", "--list", "--out", str(out)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "in --out" in lines["row"]
    assert lines["vae-vampprior-paper"].endswith(
        f"{measured['measured_nats']:.2f} (test on digits-binary, K = 5, 1 epoch, cut short, "
        "--resume continues it)"
    )
    # begun, killed before its first epoch: nothing to show but that --resume continues it
    assert lines["pixelcnn"].endswith(
        "stopped (no epoch finished yet), not scored: --resume continues it"
    )
    assert lines["iwae-1layer"].endswith(" -")

    # a row part-trained: its epochs and best validation loss (a NaN epoch is passed over),
    # whether a process trains it now (the lock's holder: here this test), and once its final
    # weights are there, that --resume only scores it
    from inference.run_lock import RunLock

    begun = out / "iwae-1layer"
    begun.mkdir()
    (begun / "config.json").write_text("{}")
    # a NaN, a string and an integer of 400 digits (float() overflows) are passed over
    epochs = [{"epoch": 1, "valid_loss": 101.5}, {"epoch": 2, "valid_loss": float("nan")}]
    epochs += [{"epoch": 3, "valid_loss": "x"}, {"epoch": 4, "valid_loss": 99.25}]
    text = "".join(json.dumps(m) + "\n" for m in epochs) + '{"valid_loss": 1' + "0" * 400 + "}\n"
    (begun / "metrics.jsonl").write_text(text)
    files = {p: p.read_bytes() for p in begun.iterdir()}

    def reached(row):
        assert main(["reproduce", "--list", "--out", str(out)]) == 0
        text = capsys.readouterr().out
        return {line.split()[0]: line for line in text.splitlines()}[row]

    so_far = "5 epochs, best validation loss 99.25"
    assert reached("iwae-1layer").endswith(f"stopped ({so_far}), not scored: --resume continues it")
    lock = RunLock(begun)
    try:
        if os.access("/proc/locks", os.R_OK):  # Linux: the holder is named
            assert reached("iwae-1layer").endswith(
                f"being trained or scored now (pid {os.getpid()}): {so_far}; not scored yet"
            )
    finally:
        lock.release(remove=True)
    assert {p: p.read_bytes() for p in begun.iterdir()} == files  # listing changed nothing
    # whether training ended is the newest checkpoint's word (its metadata alone is read): its
    # epochs reached, or early stopping; weights alone are no sign (a cut-short run has them)
    from inference.checkpoint import save_tensors

    (begun / "model.safetensors").write_bytes(b"")
    (begun / "checkpoints").mkdir()
    newest = begun / "checkpoints" / "epoch-00005.safetensors"
    for meta, ended in (
        ({"epoch": 5, "config": {"epochs": 3000}}, False),
        ({"epoch": 5, "config": {"epochs": 3000}, "stopped_early": True}, True),
        ({"epoch": 5, "config": {"epochs": 5}}, True),
    ):
        save_tensors(newest, {}, meta)
        said = (
            f"trained ({so_far}), not scored: --resume scores it"
            if ended
            else f"stopped ({so_far}), not scored: --resume continues it"
        )
        assert reached("iwae-1layer").endswith(said)
    # a checkpoint whose metadata holds a 5000-digit integer (Python's int parser refuses it):
    # said on the row, and refused by --resume in one line, not a traceback
    from safetensors.torch import save_file

    from inference.checkpoint import CheckpointError, read_metadata

    header = '{"format": "pgm-checkpoint-1", "metadata": {"epoch": 1' + "0" * 5000 + "}}"
    save_file({}, str(newest), metadata={"pgm": header})
    assert reached("iwae-1layer").endswith(
        f"stopped ({so_far}), not scored; its newest checkpoint is unreadable (--resume names "
        "which to move away)"
    )
    with pytest.raises(CheckpointError, match="expected JSON metadata; found corrupted metadata"):
        read_metadata(newest)
    save_tensors(newest, {}, {"epoch": 5, "config": {"epochs": 5}})  # ended, as before
    # a row file that is no row (here a link to /dev/zero) is said on its row; the others list
    (begun / "reproduction.json").symlink_to("/dev/zero")
    assert reached("iwae-1layer").endswith(
        "its reproduction.json unreadable or not pgm's (remove it; --resume scores the row)"
    )
    assert reached("vae-vampprior-paper").endswith("--resume continues it)")
    (begun / "reproduction.json").unlink()
    (begun / "metrics.jsonl").write_text('{"valid_loss": -1e308}\n{not json\n')
    assert reached("iwae-1layer").endswith(
        "trained (its metrics.jsonl unreadable), not scored: --resume scores it"
    )
    (begun / "metrics.jsonl").write_text('{"valid_loss": -1e308}\n')
    assert reached("iwae-1layer").endswith(
        "best validation loss -1e+308), not scored: --resume scores it"
    )
    # a scored row being trained further now says so; trained on and stopped, too
    scored = out / "vae-vampprior-paper"
    best = f"best validation loss {measured['valid_curve'][-1][1] * -1:.2f}"
    lock = RunLock(scored)
    try:
        if os.access("/proc/locks", os.R_OK):
            assert reached("vae-vampprior-paper").endswith(
                f"--resume continues it); being trained or scored again now (pid {os.getpid()}), "
                f"1 epoch, {best}"
            )
    finally:
        lock.release()
    record = (scored / "metrics.jsonl").read_text()
    (scored / "metrics.jsonl").write_text(record + record.replace('"epoch": 1', '"epoch": 2'))
    assert reached("vae-vampprior-paper").endswith(
        f"--resume continues it); trained on since (2 epochs, {best}), not scored again"
    )
    (scored / "metrics.jsonl").write_text(record)
    for bad, found in ((tmp_path / "none", "no such folder"), ("", "an empty path")):
        assert main(["reproduce", "--list", "--out", str(bad)]) == 2
        assert f"--out: expected a folder written by pgm reproduce; found {found}" in (
            capsys.readouterr().err
        )


def test_list_with_rows_lists_those_and_refuses_an_unknown_one(capsys):
    """``pgm reproduce --list nonexistent-row`` listed every row, exit 0: the named rows are
    listed alone, and an unknown one is refused in one line naming the rows."""
    from pgm_cli.main import main

    assert main(["reproduce", "--list", "hvae-vamp", "pixelcnn"]) == 0
    listed = capsys.readouterr().out.splitlines()[1:]  # after the header
    assert [line.split()[0] for line in listed if line.strip()] == ["hvae-vamp", "pixelcnn"]
    assert main(["reproduce", "--list", "nonexistent-row"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "expected one of" in err and "'nonexistent-row'" in err


@pytest.mark.parametrize("row", ["/tmp/evil", "../papers/pixelvae", "./pixelvae", ".hidden"])
def test_a_row_is_a_recipe_name_not_a_path(tmp_path, capsys, row):
    """``pgm reproduce /tmp/evil --out OUT`` read /tmp/evil.toml as a recipe and trained its run
    into /tmp/evil, outside OUT: a row is a bare recipe name, else refused naming the rows."""
    from pgm_cli.main import main

    out = tmp_path / "out"
    assert main(["reproduce", row, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"found {row!r}") and "expected one of vae-vampprior-paper" in err
    assert not out.exists()
    assert main(["reproduce", "--list", row]) == 2


@pytest.mark.parametrize(
    "argv, said",
    [
        (["pixelvae", "pixelvae"], "rows: expected each row once; found 'pixelvae' more than once"),
        (["vae", "nope"], "found 'vae', 'nope'"),
        (["--resume"], "found --resume, which only a run of rows reads"),
        (["--set", "nope=1", "--data", "x"], "found --set, --data, which only a run"),
    ],
)
def test_list_refuses_what_it_cannot_list(capsys, argv, said):
    """``--list`` printed a row twice, named the first of several unknown rows, and ignored
    a run's options (--resume, an unknown --set key) with exit 0."""
    from pgm_cli.main import main

    assert main(["reproduce", "--list", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and said in err


@pytest.mark.parametrize(
    "rows, said",
    [
        (["pixelvae", "pixelvae"], "rows: expected each row once; found 'pixelvae' more than once"),
        (["vae", "pixelvae", "nope"], "found 'vae', 'nope'"),
        (["pixelcnn", "", ""], "row: expected one of vae-vampprior-paper"),  # unknown first
        (["nosuch", "nosuch"], "found 'nosuch'"),
        ([f"no{i}" for i in range(25)], "found 'no0', 'no1',"),
    ],
)
def test_a_run_and_the_list_check_rows_alike(tmp_path, capsys, rows, said):
    """``pgm reproduce ROW ...`` and ``--list ROW ...`` check their rows in one place
    (``load_recipes``): the same refusal, every unknown row named, before anything trains."""
    from pgm_cli.main import main

    out = tmp_path / "out"
    assert main(["reproduce", *rows, "--out", str(out), "--no-progress"]) == 2
    run_err = capsys.readouterr().err.strip()
    assert main(["reproduce", "--list", *rows]) == 2
    list_err = capsys.readouterr().err.strip()
    assert said in run_err and run_err == list_err
    assert not out.exists()


def test_a_row_is_scored_under_its_run_lock(tmp_path, monkeypatch):
    """Training released the run's lock before the row was scored: meanwhile a second
    `--resume` of the row scored it too (the first then overwrote its row), and `--list --out`
    told the user to `--resume` it. The lock is held again through the scoring and the row's
    writing, and left as it was found."""
    import importlib

    from inference.run_lock import RunLock, RunLockedError, lock_holder

    # the module (evaluation's package namespace has a function of its name)
    log_likelihood = importlib.import_module("evaluation.log_likelihood")

    out = tmp_path / "repro"
    run = out / "vae-vampprior-paper"
    real, seen = log_likelihood.estimate, {}

    def estimate(*args, **kwargs):
        seen["holder"] = lock_holder(run)
        with pytest.raises(RunLockedError):  # another process would be refused here
            RunLock(run)
        return real(*args, **kwargs)

    monkeypatch.setattr(log_likelihood, "estimate", estimate)
    argv = ["reproduce", "vae-vampprior-paper", "--out", str(out), "--set", "epochs=1"]
    assert main([*argv, *TINY]) == 0
    if os.access("/proc/locks", os.R_OK):
        assert seen["holder"] == os.getpid()
    assert not (run / ".pgm-lock").exists() and (run / "reproduction.json").is_file()
