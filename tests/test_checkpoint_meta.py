"""Checkpoints are ordered by their epoch number, and every metadata field and the optimizer
state's shapes are checked on load: a tampered checkpoint is refused in one line naming the
field, before anything in the run changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from tiny_run import TINY_RUN

from inference import CheckpointError, train
from inference.checkpoint import load_tensors, save_tensors
from inference.checkpoint_meta import sorted_checkpoints

TINY = {**TINY_RUN, "epochs": 2, "lr": 3e-3, "keep_checkpoints": 1}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("meta") / "run"
    train(TINY, run, progress=False)
    (
        run / "model.safetensors"
    ).unlink()  # as if killed before the end: --resume loads the checkpoint
    return run


def _set(field, value):
    def change(tensors, meta):
        meta[field] = value

    return change


def _metric(value):
    def change(tensors, meta):
        meta["metrics"][0]["train_loss"] = value

    return change


def _exp_avg(tensors, meta):
    name = next(k for k in tensors if k.startswith("optim.") and k.endswith(".exp_avg"))
    tensors[name] = torch.zeros(3, 3)


TAMPERED = [
    ("epoch-negative", _set("epoch", -3), "metadata 'epoch' an integer >= 0; found -3"),
    ("epoch-huge-float", _set("epoch", 1e30), "metadata 'epoch' an integer >= 0; found 1e+30"),
    ("epoch-not-the-name", _set("epoch", 1), "metadata 'epoch' 2 (the file's name); found 1"),
    (
        "metrics-text",
        _set("metrics", "abc"),
        "metadata 'metrics' a list of 2 per-epoch records; found 'abc'",
    ),
    (
        "metrics-nan",
        _metric(float("nan")),
        "metadata 'metrics'[0]['train_loss'] a finite number or null; found nan",
    ),
    (
        "metrics-text-value",
        _metric("low"),
        "metadata 'metrics'[0]['train_loss'] a finite number or null; found 'low'",
    ),
    ("step-negative", _set("step", -1), "metadata 'step' an integer >= epoch (2); found -1"),
    (
        "best-epoch-future",
        _set("best_epoch", 7),
        "metadata 'best_epoch' an integer in [0, 2]; found 7",
    ),
    (
        "best-loss-text",
        _set("best_valid_loss", "x"),
        "metadata 'best_valid_loss' a finite number or null; found 'x'",
    ),
    ("optimizer-text", _set("optimizer", "adam"), "metadata 'optimizer'"),
    ("rng-missing", _set("rng", None), "metadata 'rng'"),
    ("exp-avg-shape", _exp_avg, "of shape"),
]


@pytest.mark.parametrize("case", TAMPERED, ids=[c[0] for c in TAMPERED])
def test_tampered_checkpoint_is_refused_by_field(case, finished, tmp_path):
    _, change, says = case
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    ckpt = sorted_checkpoints(run / "checkpoints")[-1]
    tensors, meta = load_tensors(ckpt)
    change(tensors, meta)
    save_tensors(ckpt, tensors, meta)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError) as info:
        train(TINY, run, resume=True, progress=False)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{ckpt}: expected"), message
    assert says in message, message
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_checkpoints_are_ordered_by_epoch_not_name(tmp_path):
    for name in [
        "epoch-99999.safetensors",
        "epoch-100000.safetensors",
        "epoch-00002.safetensors",
        "epoch-notes.safetensors",
    ]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in sorted_checkpoints(tmp_path)] == [
        "epoch-00002.safetensors",
        "epoch-99999.safetensors",
        "epoch-100000.safetensors",
    ]
