"""Benchmark 6: annealed importance sampling (AIS) against the importance-sampled estimator.

Cost per evaluation. One HMC leapfrog step needs the density *and its gradient* in z, so an AIS
"evaluation" is a forward and a backward pass of the model and guide over chains × images, where
an importance-sampling (IS) evaluation is a forward pass only. Both are timed on the same
784-400-50 VAE, the same 16 binarized-MNIST images and the same vectorised pass size (4,096
particles or chains × images): ``evaluation.ais`` with T = 5 steps of 5 leapfrog steps (21
passes of 255 scored + 1 pilot chain per image) against ``evaluation.estimate`` with K = 5376
(21 passes of 256). The unavoidable part of the difference, a backward pass, is measured
separately by a hand-written pair (the same networks as plain tensors: density only, and density
plus ``autograd.grad`` in z). The ratio with a target is AIS's cost per density+gradient
evaluation over IS's cost per density evaluation, divided by that hand-written gradient factor:
what the AIS machinery (traces replayed at each position, unconstrained transforms, HMC
bookkeeping) adds per evaluation beyond what the gradient itself costs, relative to what the IS
machinery adds.

Memory: peak resident memory of one AIS run (fresh subprocess each, as in :mod:`.estimator`) at
T = 5 and T = 50 with 256 chains, and at 5 steps with 1024 chains: it must not grow with T or C.
(Below the pass-size cap ``max_elements`` a pass is smaller, so 16 chains need less; from 256
chains on 16 images every pass is at the cap and the peak must stay put.)

Digits: a VAE trained briefly on the digits; IS (K = 1000) and AIS at T = 100 (and T = 1000
without ``--quick``) on 32 test images, with the BDMC gap on 8 simulated images.

Wall time a user pays: AIS with T = 1000, 16 chains, 10 leapfrog steps on 1,000 binarized-MNIST
validation images with the 784-400-50 VAE, extrapolated (linearly in T and in the number of
images, which the chunked loop makes exact up to the last partial chunk) from 20 steps on 100.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import pgm
from evaluation.ais import ais
from evaluation.bdmc import bdmc
from evaluation.log_likelihood import estimate

from .estimator import CONFIG, reset_peak_rss, rss_kib
from .timing import binary_images, compare

__all__ = ["hand_written_density", "run"]

NUM_IMAGES = 16


def hand_written_density(model, x: torch.Tensor, z: torch.Tensor, gradient: bool) -> torch.Tensor:
    """log p(x, z) − log q(z|x) of a Bernoulli-decoder VAE at ``z: (C, N, L)`` as plain tensors,
    ``(C, N)``; with ``gradient``, also its gradient in z (returned summed, to force the work)."""
    posterior, decoder = model.posterior, model.likelihood.decoder
    with torch.no_grad():
        h = torch.relu(posterior.encoder(x))
        loc, scale = posterior.loc(h), F.softplus(posterior.scale(h)) + 1e-4
    with torch.enable_grad() if gradient else torch.no_grad():
        z = z.detach().requires_grad_(gradient)
        logits = decoder(z)[..., 0].flatten(2)
        flat = x.flatten(1)
        log_px = -F.binary_cross_entropy_with_logits(
            logits, flat.expand_as(logits), reduction="none"
        ).sum(-1)
        log_pz = (-0.5 * z**2).sum(-1)
        log_qz = (-0.5 * ((z - loc) / scale) ** 2 - scale.log()).sum(-1)
        lw = log_px + log_pz - log_qz
        if gradient:
            return torch.autograd.grad(lw.sum(), z)[0].sum()
        return lw


def _cost(quick: bool, data_dir: str | None) -> dict:
    torch.manual_seed(0)
    model = pgm.build(CONFIG).eval()
    x, source = binary_images("valid", NUM_IMAGES, data_dir)
    chains, steps, leapfrog = 255, 5, 5
    passes = 1 + (steps - 1) * leapfrog
    per_pass = (chains + 1) * NUM_IMAGES
    k = 256 * passes
    z = torch.randn(256, NUM_IMAGES, CONFIG["latent_dim"])
    timings = compare(
        {
            "ais": lambda: ais(model, None, x, steps, chains, num_leapfrog=leapfrog),
            "is": lambda: estimate(model, x=x, num_particles=k),
            "hand_density": lambda: hand_written_density(model, x, z, False),
            "hand_gradient": lambda: hand_written_density(model, x, z, True),
        },
        rounds=3 if quick else 5,
        warmup=1,
    )
    per_ais = timings["ais"].seconds / (passes * per_pass)
    per_is = timings["is"].seconds / (k * NUM_IMAGES)
    gradient_factor = timings["hand_gradient"].seconds / timings["hand_density"].seconds
    ratio = per_ais / per_is / gradient_factor
    return {
        "ais_us_per_evaluation": round(1e6 * per_ais, 3),
        "is_us_per_evaluation": round(1e6 * per_is, 3),
        "ratio_raw": round(per_ais / per_is, 3),
        "gradient_factor": round(gradient_factor, 3),
        "ratio": round(ratio, 3),
        "cost_setup": f"{NUM_IMAGES} images ({source}), {per_pass} chains x images per pass, "
        f"AIS T = {steps} x {leapfrog} leapfrog = {passes} density+gradient passes, "
        f"IS K = {k} = {passes} passes",
    }


def measure_peak(num_steps: int, num_chains: int, data_dir: str | None) -> dict:
    """In this (fresh) process: peak resident memory of one AIS run above the warm baseline."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = pgm.build(CONFIG).eval()
    x, _ = binary_images("valid", NUM_IMAGES, data_dir)
    ais(model, None, x, 2, 2, num_leapfrog=2)  # imports, lazy initialisation, first arenas
    reset_peak_rss()
    baseline = rss_kib("VmRSS")
    ais(model, None, x, num_steps, num_chains, num_leapfrog=2)
    return {
        "num_steps": num_steps,
        "num_chains": num_chains,
        "peak_mb": (rss_kib("VmHWM") - baseline) / 1024,
    }


def _peak_in_subprocess(num_steps: int, num_chains: int, data_dir: str | None) -> float:
    cmd = [sys.executable, "-m", "benchmarks.ais", str(num_steps), str(num_chains)] + (
        [data_dir] if data_dir else []
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["MALLOC_MMAP_THRESHOLD_"] = "131072"  # each large tensor its own mapping (see .estimator)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]


def _digits(quick: bool) -> dict:
    """A briefly trained digits VAE: IS against AIS per T, with the BDMC gap."""
    import pyro
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    pyro.set_rng_seed(0)
    train = pgm.load_dataset("digits", "train").float_images()
    test = pgm.load_dataset("digits", "test").float_images()[:32]
    vae = pgm.build(
        {
            "model": "vae",
            "image_shape": [1, 8, 8],
            "num_levels": 17,
            "hidden_dim": 64,
            "latent_dim": 8,
        }
    )
    svi = SVI(vae.model, vae.guide, Adam({"lr": 3e-3}), Trace_ELBO())
    for _ in range(300 if quick else 1000):
        svi.step(train[torch.randint(0, train.shape[0], (128,))])
    torch.manual_seed(1)
    is_ll = estimate(vae, None, test, 1000).log_likelihood.double()
    rows = {"is_k1000_nats": round(float(is_ll.mean()), 3)}
    for steps in (100,) if quick else (100, 1000):
        began = time.perf_counter()
        torch.manual_seed(1)
        est = ais(vae, None, test, steps, 4, num_leapfrog=5).log_likelihood
        seconds = time.perf_counter() - began
        torch.manual_seed(2)
        sandwich = bdmc(vae, None, 8, steps, 4, num_leapfrog=5)
        diff = est - is_ll
        rows[f"T={steps}"] = {
            "ais_nats": round(float(est.mean()), 3),
            "ais_minus_is_nats": round(float(diff.mean()), 3),
            "ais_minus_is_se": round(float(diff.std() / math.sqrt(diff.numel())), 3),
            "bdmc_gap_nats": round(float(sandwich.gap.mean()), 3),
            "bdmc_gap_max_nats": round(float(sandwich.gap.max()), 3),
            "ais_seconds": round(seconds, 1),
        }
    rows["setup"] = (
        "digits VAE (hidden 64, latent 8), 32 test images, 4 chains, 5 leapfrog; "
        "BDMC on 8 simulated"
    )
    return rows


def _user_wall_time(data_dir: str | None) -> dict:
    torch.manual_seed(0)
    model = pgm.build(CONFIG).eval()
    x, source = binary_images("valid", 100, data_dir)
    steps = 20
    began, cpu = time.perf_counter(), time.process_time()
    ais(model, None, x, steps, 16, num_leapfrog=10)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    scale = (1000 / steps) * (1000 / 100) / 3600
    return {
        "measured": f"T = {steps}, 16 chains, 10 leapfrog, 100 images ({source}): "
        f"{seconds:.1f} s wall, {cpu_seconds:.1f} s CPU "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
        "extrapolated_hours_T1000_1000_images_wall": round(seconds * scale, 2),
        "extrapolated_hours_T1000_1000_images_cpu": round(cpu_seconds * scale, 2),
    }


def run(quick: bool, data_dir: str | None = None) -> dict:
    cost = _cost(quick, data_dir)
    memory = {
        (steps, chains): _peak_in_subprocess(steps, chains, data_dir)
        for steps, chains in ((5, 256), (50, 256), (5, 1024))
    }
    memory_ratio = max(memory.values()) / min(memory.values())
    result = {
        "name": "ais",
        "suite": "evaluation.ais (HMC, chains vectorised, chunked), "
        "per density+gradient evaluation",
        "baseline": "evaluation.estimate (IS), per density evaluation, same pass size",
        **cost,
        "target": "<= 1.30 (ratio_raw / gradient_factor)",
        "memory_peak_mb": {f"T={s} C={c}": round(mb, 1) for (s, c), mb in memory.items()},
        "memory_ratio": round(memory_ratio, 3),
        "memory_target": "<= 1.5",
        "digits": _digits(quick),
        "user_wall_time": _user_wall_time(data_dir),
    }
    result["passed"] = cost["ratio"] <= 1.30 and memory_ratio <= 1.5
    return result


if __name__ == "__main__":  # one memory measurement: python -m benchmarks.ais T C [DATA_DIR]
    print(
        json.dumps(
            measure_peak(
                int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None
            )
        )
    )
