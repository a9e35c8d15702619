"""Benchmark 5: training throughput (images/s) of every registered model on binarized MNIST, with
the number of sequential steps each image's forward pass takes.

Each model is built from its defaults for 28×28 binary images and trained by ``Trainer.fit``
(the same loop as ``pgm train``): one warm-up epoch, then one timed epoch of a few batches.
``images_per_second`` is the trainer's own figure (wall clock, as in ``metrics.jsonl``);
``images_per_cpu_second`` divides by the process's CPU time instead, which other processes on
a shared machine do not inflate.

Sequential steps per image are counted, not assumed: the LSTM cell updates one forward pass
makes, each of which waits for the previous one (a Row LSTM layer walks the H rows, a Diagonal
BiLSTM layer the H + W − 1 diagonals in each of its two directions); convolutional and MLP
models have none: every pixel's output is computed at once.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

import torch
from pyro import poutine

import pgm
from inference.config import resolve_config
from inference.trainer import Trainer

from .timing import binary_images

__all__ = ["count_sequential_steps", "run"]


@contextmanager
def _counting_lstm_cells(counter: list[int]):
    """Count calls of every ``lstm_cell`` the networks in ``pgm.nn`` look up."""
    patched = []
    for name, module in list(sys.modules.items()):
        cell = getattr(module, "lstm_cell", None) if name.startswith("pgm.nn.") else None
        if callable(cell):

            def counted(*args, _cell=cell, **kwargs):
                counter[0] += 1
                return _cell(*args, **kwargs)

            patched.append((module, cell))
            module.lstm_cell = counted
    try:
        yield
    finally:
        for module, cell in patched:
            module.lstm_cell = cell


@torch.no_grad()
def count_sequential_steps(model: pgm.GenerativeModel, x: torch.Tensor) -> int:
    """LSTM cell updates in one run of the model on one image (0: fully parallel)."""
    counter = [0]
    with _counting_lstm_cells(counter):
        # the observed site's log-probability, hence the network's pass, is computed lazily
        poutine.trace(model.model).get_trace(x[:1]).compute_log_prob()
    return counter[0]


def _measure(name: str, x: torch.Tensor, batch: int) -> dict:
    cfg = resolve_config(
        {
            "model": name,
            "data": "binarized-mnist",
            "batch_size": batch,
            "epochs": 2,
            "device": "cpu",
        },
        image_shape=[1, 28, 28],
        num_levels=2,
    )
    torch.manual_seed(0)
    model = pgm.build(cfg)
    trainer = Trainer(cfg, model)
    # warm-up: the first, fully checked step and allocations
    trainer.fit(x, None, progress=False, max_epochs=1)
    cpu = time.process_time()
    trainer.fit(x, None, progress=False)
    cpu = time.process_time() - cpu
    record = trainer.metrics[-1]
    return {
        "images_per_second": round(record["images_per_second"], 1),
        "images_per_cpu_second": round(x.shape[0] / cpu, 1),
        "sequential_steps_per_image": count_sequential_steps(model, x),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def run(quick: bool, data_dir: str | None = None) -> dict:
    batch, steps = (16, 2) if quick else (64, 3)
    x, source = binary_images("train", batch * steps, data_dir)
    models = {}
    for name in pgm.MODELS:
        try:
            models[name] = _measure(name, x, batch)
        except Exception as err:  # a model that cannot train here is reported, not fatal
            models[name] = {"error": f"{type(err).__name__}: {err}"}
    return {
        "name": "throughput",
        "models": models,
        "setup": f"binarized MNIST 28x28, batch {batch}, one warm-up epoch then one timed epoch of "
        f"{steps} steps, default model sizes, data: {source}",
        "sequential_steps": "LSTM cell updates per forward pass (Row LSTM: layers x H; Diagonal "
        "BiLSTM: layers x 2 x (H + W - 1)); 0 for convolutional and MLP models",
    }
