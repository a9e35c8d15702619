"""``pgm suite``: train and compare the standard set of models (the main job)."""

from __future__ import annotations

from pathlib import Path

from .. import options as o
from ..ranking import print_ranking


def suite_model_names() -> list[str]:
    """The names in ``evaluation/suite.toml``, read without importing ``evaluation`` (which
    loads torch), for the help text; ``evaluation.suite`` checks the names given."""
    import sys
    from importlib.util import find_spec
    from pathlib import Path

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    folder = Path(find_spec("evaluation").submodule_search_locations[0])
    return list(tomllib.loads((folder / "suite.toml").read_text())["models"])


def add_parser(sub) -> None:
    p = sub.add_parser(
        "suite",
        help="train and compare the standard set of models (the main job)",
        description="Train the suite's models (VAEs with several priors/guides/ELBOs, the "
        "autoencoder, PixelCNNs, PixelRNNs, PixelVAE) on one dataset, evaluate them on its test "
        "split with the shared estimator, and write results.json, sample grids and the report "
        "into --out. Interrupted? Run the same command again: finished models are kept and an "
        "unfinished one resumes.",
    )
    o.add_out_folder(p, "the suite's runs and the report")
    p.add_argument(
        "--data", default="digits", help="dataset (default digits: embedded, no download)"
    )
    o.add_num_particles(p, o.DEFAULT_NUM_PARTICLES, ", as pgm compare")
    p.add_argument(
        "--models",
        nargs="+",
        action="extend",  # --models a --models b: both (a second flag replaced the first)
        default=None,
        metavar="NAME",
        help=f"only these suite models, among: {', '.join(suite_model_names())} (default: all)",
    )
    p.add_argument(
        "--add",
        nargs="+",
        action="extend",
        default=[],
        metavar="RUN",
        help="already-trained runs (a plug-in model, say) compared alongside the suite's models",
    )
    p.add_argument(
        "--epochs-scale",
        type=float,
        default=1.0,
        help="multiply every model's epochs (e.g. 0.1 for a smoke run)",
    )
    p.add_argument(
        "--budget",
        choices=["fixed", "converge"],
        default="fixed",
        help="fixed: each model's epochs from the suite table (minutes; not converged, the "
        "report says so); converge: early stopping, until 10 epochs bring no better validation "
        "loss (at most 500), the best epoch kept",
    )
    p.add_argument(
        "--seeds",
        type=o.positive_int("--seeds"),
        default=1,
        help="train each model with seeds 0..N-1 (default 1); with >= 2 the comparison's unit "
        "is the training run (intervals and tests over seeds)",
    )
    p.add_argument(
        "--jobs",
        type=o.positive_int("--jobs"),
        default=1,
        help="train up to J runs at once (default 1: in this process)",
    )
    p.add_argument(
        "--executor",
        default="local",
        metavar="local|slurm",
        help="local: this machine (submitit's LocalExecutor when --jobs > 1); slurm: a Slurm "
        "cluster through submitit (default local)",
    )
    o.add_threads(
        p,
        1,
        "1: the suite's small networks run faster on one thread than on two that wait for each "
        "other",
    )
    o.add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from evaluation.suite import run_suite
    from evaluation.tables import printable
    from inference.out_path import check_folder_out

    check_folder_out(args.out, "--out", holds_runs=True)  # may hold runs, not be inside one
    torch.set_num_threads(args.threads)
    results = run_suite(
        args.out,
        data=args.data,
        data_dir=args.data_dir,
        num_particles=args.num_particles,
        models=args.models,
        epochs_scale=args.epochs_scale,
        device=args.device,
        progress=not args.no_progress,
        extra_runs=args.add,
        budget=args.budget,
        seeds=args.seeds,
        jobs=args.jobs,
        executor=args.executor,
    )
    print_ranking(results)
    print(f"results: {printable(str(Path(args.out) / 'results.json'))}")
    print(f"report: {printable(str(Path(args.out) / 'report.html'))}")
    return 0
