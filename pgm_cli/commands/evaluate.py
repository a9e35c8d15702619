"""``pgm evaluate``: the log-likelihood of a run on a split, by a registered estimator
(importance sampling, AIS, or a plug-in's)."""

from __future__ import annotations

from .. import options as o
from ..output import emit

METHOD_HELP = (
    "the estimator: is (importance sampling with the run's guide, the default), ais (annealed "
    "importance sampling with HMC), or the name of an estimator a plug-in registers "
    "(--plugin FILE)"
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="log-likelihood of a run on a split (importance sampling, AIS, or a plug-in's)",
        description="Estimate log p(x) per image with the run's guide and K importance samples "
        "(exact for models without latents), with AIS, or with another registered estimator "
        "(--method); report mean nats, bits/dim and the ELBO; writes "
        "RUN/evaluation-SPLIT-METHOD-SETTINGS-nN.json and reuses it when the same evaluation is "
        "asked again. A run still training is evaluated from its newest checkpoint with "
        "--checkpoint (its file's name ends in -ckpt-best-eEPOCH or -ckpt-last-eEPOCH).",
        epilog="example:\n  pgm evaluate runs/vae --method ais --steps 500 --chains 4",
    )
    o.add_run(p)
    o.add_num_particles(p, None, f"{o.DEFAULT_NUM_PARTICLES}, as pgm compare")
    o.add_split(p)
    o.add_num_images(p)
    o.add_seed(p, "the estimator")
    o.add_method(p, METHOD_HELP, choices=None)
    o.add_checkpoint(p, "evaluate")
    o.add_ais_options(p)
    o.add_json(
        p, "print one JSON line (the contents of the evaluation file) instead of the summary"
    )
    o.add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """After ``--plugin`` has been named, so a plug-in's estimator is found in the registry."""
    from evaluation.evaluate_command import evaluate, summary_text

    settings = {
        "num_particles": args.num_particles,
        "steps": args.steps,
        "chains": args.chains,
        "leapfrog": args.leapfrog,
    }
    row, _, reused = evaluate(
        args.run,
        args.method,
        settings,
        args.split,
        args.data_dir,
        args.num_images,
        device=args.device,
        seed=args.seed,
        progress=not args.no_progress,
        checkpoint=args.checkpoint,
    )
    emit(args, row, lambda r: summary_text(r, reused))
    return 0
