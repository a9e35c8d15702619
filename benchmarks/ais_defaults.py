"""How long AIS must run: the measurement behind ``pgm evaluate --method ais``'s defaults.

For a trained run, every (T, C) of a grid is run on the same test images (AIS, one seed) and on
the same simulated images (BDMC, one seed): the mean estimate, its paired difference from the
longest setting (mean and standard error over images), the mean BDMC gap (upper − lower bound on
data simulated from the model; a small gap certifies the schedule, Grosse et al. 2015), the scored
chains' HMC acceptance and final step size, and the wall seconds of the AIS run.

``python -m benchmarks.ais_defaults RUN [--images 20] [--bdmc-images 16] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import torch

from evaluation.ais import ais
from evaluation.bdmc import bdmc

__all__ = ["measure", "main"]

STEPS = (250, 500, 1000)
CHAINS = (4, 16)


def measure(
    run_dir: str,
    steps=STEPS,
    chains=CHAINS,
    num_images: int = 20,
    bdmc_images: int = 16,
    num_leapfrog: int = 10,
    seed: int = 0,
) -> dict:
    from inference import load_run
    from pgm.data import config_dataset

    model, cfg = load_run(run_dir, device="cpu")
    x = config_dataset(cfg, "test").subset(num_images).float_images()
    rows, estimates = [], {}
    for t in steps:
        for c in chains:
            torch.manual_seed(seed)
            began = time.perf_counter()
            result = ais(model, None, x, t, c, num_leapfrog=num_leapfrog)
            seconds = time.perf_counter() - began
            torch.manual_seed(seed + 1)
            sandwich = bdmc(model, None, bdmc_images, t, c, num_leapfrog=num_leapfrog)
            estimates[(t, c)] = result.log_likelihood
            rows.append(
                {
                    "num_steps": t,
                    "num_chains": c,
                    "ais_nats": round(float(result.log_likelihood.mean()), 3),
                    "bdmc_gap_nats": round(float(sandwich.gap.mean()), 3),
                    "bdmc_gap_max_nats": round(float(sandwich.gap.max()), 3),
                    "accept_rate": round(float(result.accept_rate.mean()), 3),
                    "step_size": round(float(result.step_size.mean()), 4),
                    "ais_seconds": round(seconds, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    reference = estimates[(max(steps), max(chains))]
    for row in rows:
        diff = estimates[(row["num_steps"], row["num_chains"])] - reference
        row["minus_longest_nats"] = round(float(diff.mean()), 3)
        row["minus_longest_se"] = round(float(diff.std() / math.sqrt(diff.numel())), 3)
    return {
        "run": str(run_dir),
        "architecture": cfg["model"],
        "data": cfg["data"],
        "setup": f"{num_images} test images, BDMC on {bdmc_images} simulated, {num_leapfrog} "
        f"leapfrog, seed {seed}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ais_defaults")
    p.add_argument("run")
    p.add_argument("--images", type=int, default=20)
    p.add_argument("--bdmc-images", type=int, default=16)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    result = measure(args.run, num_images=args.images, bdmc_images=args.bdmc_images)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
