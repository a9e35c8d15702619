"""The ``pgm`` command end to end in a temporary folder: train -> evaluate -> sample, list, suite."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import pgm
from evaluation.cli import main
from inference import load_run
from pgm.completion import complete, observed_mask

TINY = """
data = "digits"
model = "vae"
latent_dim = 4
hidden_dim = 32
epochs = 2
batch_size = 64
num_train = 256
lr = 3e-3
device = "cpu"
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_train_evaluate_sample(tmp_path, config, capsys):
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), "--set", "prior=vamp", "--no-progress"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["prior"] == "vamp" and saved["image_shape"] == [1, 8, 8] and saved["num_levels"] == 17
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (run / "model.safetensors").is_file()
    capsys.readouterr()

    assert main(["evaluate", str(run), "--num-particles", "20", "--num-images", "30", "--no-progress"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["num_particles"] == 20 and row["num_images"] == 30 and row["num_dims"] == 64
    assert row["elbo_nats"] <= row["log_likelihood_nats"] < 0
    assert row["bits_per_dim"] == pytest.approx(-row["log_likelihood_nats"] / (64 * 0.6931471805599453))
    assert json.loads((run / "evaluation-test.json").read_text())["log_likelihood_nats"] == row["log_likelihood_nats"]

    out = tmp_path / "grid.png"
    assert main(["sample", str(run), "-n", "9", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(capsys.readouterr().out)["shape"] == [9, 1, 8, 8]


def test_list_names_every_part(capsys):
    assert main(["list", "--json"]) == 0
    parts = json.loads(capsys.readouterr().out)
    assert {"vae", "autoencoder"} <= set(parts["models"])
    assert {"standard-normal", "diagonal-normal", "mixture", "vamp", "flow"} <= set(parts["priors"])
    assert {"diagonal-normal", "iaf"} <= set(parts["guides"])
    assert {"bernoulli", "categorical", "discretized-logistic", "normal"} <= set(parts["likelihoods"])
    assert {"digits", "digits-binary", "binarized-mnist", "mnist", "fashion-mnist", "cifar10"} <= set(parts["datasets"])


def test_help_explains_each_command(capsys):
    done = subprocess.run([sys.executable, "-m", "evaluation.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage: pgm" in done.stdout and "suite" in done.stdout
    for command in ("train", "evaluate", "sample", "suite", "compare", "list", "complete"):
        assert main([command, "--help"]) == 0
        assert "usage: pgm " + command in capsys.readouterr().out


def test_complete_fills_the_bottom_half(tmp_path, capsys):
    config = tmp_path / "pixelcnn.toml"
    config.write_text('data = "digits-binary"\nmodel = "pixelcnn"\nhidden_channels = 8\n'
                      'num_layers = 2\nepochs = 1\nnum_train = 128\ndevice = "cpu"\n')
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), "--no-progress"]) == 0
    images = pgm.load_dataset("digits-binary", "test").images[:3].numpy()
    np.save(tmp_path / "in.npy", images)
    out = tmp_path / "done.png"
    capsys.readouterr()
    assert main(["complete", str(run), "--input", str(tmp_path / "in.npy"), "--samples", "2",
                 "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == {"completions": str(out), "n": 3, "samples_per_image": 2}
    assert out.read_bytes()[:4] == b"\x89PNG"
    model, _ = load_run(run)
    mask = observed_mask("top-half", model.event_shape)
    x = torch.from_numpy(images).float()
    torch.manual_seed(0)
    filled = complete(model, x, mask)
    assert torch.equal(filled[:, mask], x[:, mask])  # observed pixels kept exactly
    assert ((filled == 0) | (filled == 1)).all()


def test_suite_writes_results_and_sample_grids(tmp_path, capsys):
    out = tmp_path / "suite"
    assert main(["suite", "--out", str(out), "--models", "vae", "vae-iwae", "autoencoder",
                 "--epochs-scale", "0.05", "--num-particles", "10", "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    rows = results["models"] if isinstance(results, dict) else results
    assert {r["model"] for r in rows} == {"vae", "vae-iwae"}  # the autoencoder has no density
    for r in rows:
        assert r["num_dims"] == 64 and r["num_particles"] == 10
        assert r["bits_per_dim"] > 0 and r["elbo_nats"] <= r["log_likelihood_nats"]
        assert (out / "figures" / f"samples-{r['model']}.png").is_file()
