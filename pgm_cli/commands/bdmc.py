"""``pgm bdmc``: bidirectional Monte Carlo bounds on data simulated from a run's model."""

from __future__ import annotations

import json
from pathlib import Path

from .. import options as o
from ..output import emit, key_values


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bdmc",
        help="bidirectional Monte Carlo bounds on data simulated from a run's model",
        description="Simulate images and latents from the model, then sandwich log p(x) between "
        "forward AIS (lower bound) and reverse AIS from the exact latent (upper bound); the gap "
        "certifies the AIS schedule. Writes RUN/bdmc.json.",
    )
    o.add_run(p, "a latent-variable model")
    o.add_num_images(p, 32, "simulated images (default 32)", minimum=1)
    o.add_seed(p, "the simulated images and the AIS chains")
    o.add_ais_options(p)
    o.add_json(p, "print one JSON line (the contents of RUN/bdmc.json) instead of the summary")
    o.add_common(p, data_dir=False)
    p.set_defaults(func=run)


def run(args) -> int:
    from evaluation.evaluate_ais import bdmc_run
    from inference.atomic_write import atomic_write_text

    row = bdmc_run(
        args.run,
        args.num_images,
        args.steps,
        args.chains,
        device=args.device,
        seed=args.seed,
        progress=not args.no_progress,
        num_leapfrog=args.leapfrog,
    )
    atomic_write_text(Path(args.run) / "bdmc.json", json.dumps(row, indent=2) + "\n")
    emit(args, row, lambda r: key_values(f"BDMC bounds for {args.run}", r))
    return 0
