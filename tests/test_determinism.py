"""Same seed and config, same numbers on CPU: two runs write identical metrics (timing fields
aside), weights and checkpoint tensors; another seed gives other numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import pgm
from inference import fit_model, train

TIMING = {"seconds", "images_per_second"}
TINY = {
    "data": "digits",
    "model": "vae",
    "latent_dim": 2,
    "hidden_dim": 16,
    "num_train": 100,
    "batch_size": 25,
    "epochs": 2,
    "lr": 3e-3,
    "seed": 7,
    "device": "cpu",
}


def _metrics(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"elbo": "iwae", "num_particles": 3, "prior": "vamp"},
        {"elbo": "mean-field", "kl_warmup_epochs": 1, "grad_clip": 5.0},
    ],
    ids=["trace", "iwae-vamp", "mean-field-warmup-clip"],
)
def test_same_seed_same_metrics_and_weights(changes, tmp_path):
    config = {**TINY, **changes}
    first, second = tmp_path / "first", tmp_path / "second"
    train(config, first, progress=False)
    train(config, second, progress=False)
    assert _metrics(first) == _metrics(second) and len(_metrics(first)) == 2
    assert (first / "metrics.jsonl").read_text().count("\n") == 2
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    for path in (first / "checkpoints").glob("epoch-*.safetensors"):
        mine, theirs = load_file(path), load_file(second / "checkpoints" / path.name)
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_another_seed_other_metrics(tmp_path):
    train(TINY, tmp_path / "a", progress=False)
    train({**TINY, "seed": 8}, tmp_path / "b", progress=False)
    assert [m["train_loss"] for m in _metrics(tmp_path / "a")] != [
        m["train_loss"] for m in _metrics(tmp_path / "b")
    ]


def test_fit_model_in_memory_is_deterministic():
    x = torch.randint(0, 17, (60, 1, 8, 8)).float()
    cfg = {**TINY, "image_shape": [1, 8, 8], "num_levels": 17}
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        result = fit_model(pgm.build(cfg), x, epochs=2, batch_size=20, seed=3)
        states.append(result.model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
