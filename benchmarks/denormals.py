"""``python -m benchmarks.denormals RUN``: training steps of a run's last checkpoint with float32
denormals kept against flushed to zero (``flush_denormal``, :mod:`inference.denormals`), side by
side in one process.

A trained VampPrior sends its pseudo-inputs' gradients through components whose
responsibilities are ``exp(-90)``-small, and x86 matrix kernels slow down on such denormals. The
effect needs trained weights (a fresh network has none of them), so the benchmark takes a run
folder: it builds the run's model from ``config.json`` (built-in parts only: a run that names
plug-ins is refused, since timing it would import their code), loads the newest checkpoint and
times ``--steps`` SVI steps per round, the two settings interleaved over ``--rounds`` rounds on
one thread, then prints the medians, the ratio and the share of denormal entries among the
gradients of one step. Both settings train on, so each round starts from weights a few steps on.

Measured (2-core x86 machine shared with two trainings, one thread, 3 rounds of 10 steps):
``vamp-1layer`` at epoch 111, 5.2% of its gradient entries denormal, median 0.58 s per step
kept against 0.062 s flushed, a ratio of 9.4. Digits ``vae`` and ``vae-vamp`` runs of 40 epochs
have no denormals; their ratios (1.4 and 1.1) are the machine's noise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from inference.checkpoint_meta import sorted_checkpoints
from inference.denormals import flush_denormals
from inference.kl_warmup import kl_weight
from inference.run import Run
from inference.run_folder import read_json_object
from inference.trainer_state import load_checkpoint
from pgm.errors import PgmError

from .timing import compare, machine

__all__ = ["main"]


def _denormal_share(model: torch.nn.Module) -> float:
    grads = [p.grad.detach().flatten() for p in model.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    g = torch.cat(grads)
    return float(((g != 0) & (g.abs() < torch.finfo(torch.float32).tiny)).float().mean())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.denormals", description=__doc__.splitlines()[0]
    )
    p.add_argument("run", help="a run folder with config.json and checkpoints/")
    p.add_argument("--steps", type=int, default=20, help="SVI steps per round (default 20)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--data-dir", help="folder with the run's data files (binarized_mnist.npz)")
    return p


def _refuse(message) -> int:
    """One line on stderr, exit status 2, as the ``pgm`` command refuses bad input."""
    print(f"python -m benchmarks.denormals: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("steps", "rounds"):
        if getattr(args, name) < 1:
            return _refuse(f"--{name}: expected a positive count; found {getattr(args, name)}")
    run = Path(args.run)
    if not run.is_dir():
        found = "a file" if run.exists() else "nothing"
        return _refuse(
            f"run: expected a run folder with config.json and checkpoints/; found {found} at {run}"
        )
    try:
        # a corrupted, absurdly nested or non-object config.json refused in one line
        config = read_json_object(run / "config.json", "run")
    except PgmError as err:
        return _refuse(err)
    if config.get("plugins"):
        return _refuse("run: trained with plug-ins; this benchmark builds built-in models only")
    checkpoints = sorted_checkpoints(run / "checkpoints")
    if not checkpoints:
        return _refuse(f"run: expected checkpoints in {run / 'checkpoints'}; found none")
    torch.set_num_threads(1)
    torch.set_flush_denormal(False)
    config = {**config, "device": "cpu"}
    try:  # a config pgm refuses, its data missing or a corrupted checkpoint: one line
        session = Run(config, data_dir=args.data_dir)
        trainer = session.trainer
        load_checkpoint(trainer, checkpoints[-1])
    except (PgmError, OSError) as err:  # OSError: a data file that is not there
        return _refuse(err)
    trainer.model.train()
    train_x = session.train_x.float()
    size = trainer.training.batch_size
    beta = kl_weight(trainer.epoch, trainer.training.kl_warmup_epochs)
    cursor = [0]

    def steps() -> None:
        for _ in range(args.steps):
            start = cursor[0] % max(len(train_x) - size, 1)
            trainer.train_step(train_x[start : start + size], beta)
            cursor[0] += size

    def kept() -> None:
        with flush_denormals(False):
            steps()

    def flushed() -> None:
        with flush_denormals(True):
            steps()

    kept()
    share = _denormal_share(trainer.model)
    timings = compare({"kept": kept, "flushed": flushed}, rounds=args.rounds, warmup=0)
    wall = {k: statistics.median(t.wall) / args.steps for k, t in timings.items()}
    result = {
        "name": "denormals",
        "run": str(run),
        "epoch": trainer.epoch,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "denormal_share_of_gradients": share,
        "seconds_per_step_kept": wall["kept"],
        "seconds_per_step_flushed": wall["flushed"],
        "ratio": wall["kept"] / wall["flushed"],
        "machine": machine(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
