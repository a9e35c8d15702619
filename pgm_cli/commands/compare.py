"""``pgm compare``: evaluate several runs on the same images and write a report."""

from __future__ import annotations

from pathlib import Path

from .. import options as o
from ..ranking import print_ranking


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="evaluate several runs on the same images and write a report",
        description="Evaluate every run on the SAME test images with the shared estimator, "
        "compare them pairwise, write results.json, report.md, report.html, tables.tex, "
        "idata.nc and figures into --out. Runs whose configs differ only in their seed (or "
        "grouped with --group) are one model: with a model of two seeds or more, the report "
        "leads with the models over their seeds (tests with the training run as the unit), "
        "and no two seeds of one model are tested against each other.",
    )
    p.add_argument(
        "runs",
        nargs="*",
        type=o.folder_path,
        help="run folders (named after the folder; see --label)",
    )
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=RUN",
        help="a run folder with the name the report gives it (repeatable; e.g. --label "
        "baseline=runs/vae)",
    )
    p.add_argument(
        "--group",
        action="append",
        default=None,
        metavar="NAME=RUN,RUN,...",
        help="compare these runs (two or more: their names in the report, or their folders) as "
        "seeds of one model called NAME (repeatable); runs whose configs differ only in seed "
        "are grouped without it",
    )
    o.add_out_folder(p, "the report: results.json, idata.nc, report.md, report.html, figures/")
    o.add_num_particles(p, o.DEFAULT_NUM_PARTICLES, ", as pgm suite")
    o.add_split(p, "the data split every model is evaluated on")
    o.add_num_images(p)
    o.add_seed(p, "the importance samples and resamples")
    p.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="family-wise error rate of the pairwise tests, Holm-adjusted (default 0.05)",
    )
    p.add_argument(
        "--curve-images",
        type=o.count("--curve-images"),
        default=16,
        help="test images for the estimate-against-K curves (default 16; 0: none)",
    )
    p.add_argument(
        "--curve-max-particles",
        type=o.particle_count("--curve-max-particles"),
        default=5000,
        help="largest K of those curves (default 5000)",
    )
    o.add_method(p, "ais: also AIS and BDMC for every latent model, beside importance sampling")
    o.add_ais_options(p)
    p.add_argument(
        "--bdmc-images",
        type=o.count("--bdmc-images"),
        default=16,
        help="AIS: simulated images for the BDMC gap (default 16; 0: none)",
    )
    o.add_device(p, "cpu", "where the models run: cpu (default), cuda or auto")
    o.add_common(p, device=False)
    p.set_defaults(func=run)


def _runs_and_names(args) -> tuple[list[str], list[str | None]]:
    """The positional runs (named after their folder), then each ``--label NAME=RUN``."""
    from inference.out_path import check_folder_out, check_name

    from ..errors import UsageError

    runs, names = list(args.runs), [None] * len(args.runs)
    for pair in args.label:
        name, sep, run_folder = pair.partition("=")
        if not sep or not name.strip() or not run_folder.strip():
            raise UsageError(
                f"--label: expected NAME=RUN (a name for a run folder); found {pair!r}"
            )
        runs.append(run_folder.strip())
        names.append(check_name(name.strip(), "--label", "a label"))  # a safe file name
    if not runs:
        raise UsageError(
            "runs: expected at least one run folder (positional, or --label NAME=RUN); found none"
        )
    check_folder_out(args.out, "--out", runs)  # not a run, its checkpoints, nor their folder
    return runs, names


def run(args) -> int:
    from evaluation.compare import compare_runs
    from evaluation.tables import printable

    runs, names = _runs_and_names(args)
    ais = {
        "num_steps": args.steps,
        "num_chains": args.chains,
        "bdmc_images": args.bdmc_images,
        "num_leapfrog": args.leapfrog,
    }
    results = compare_runs(
        runs,
        args.out,
        num_particles=args.num_particles,
        split=args.split,
        names=names,
        data_dir=args.data_dir,
        num_images=args.num_images,
        seed=args.seed,
        progress=not args.no_progress,
        alpha=args.alpha,
        curve_images=args.curve_images,
        curve_max_particles=args.curve_max_particles,
        ais=None if args.method == "is" else ais,
        device=args.device,
        groups=args.group,
    )
    print_ranking(results)
    print(f"report: {printable(str(Path(args.out) / 'report.html'))}")
    return 0
