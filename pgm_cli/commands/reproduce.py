"""``pgm reproduce``: train the papers' recipes and compare with the published numbers (the
logic lives in :mod:`evaluation.reproduce`)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from .. import options as o


def add_parser(sub) -> None:
    """The ``pgm reproduce`` subcommand on the ``pgm`` parser's subparsers ``sub``."""
    p = sub.add_parser(
        "reproduce",
        help="train the papers' recipes and compare with the published numbers",
        description="Train each ROW with its published recipe (papers/ROW.toml, shipped in "
        "pgm/configs) into "
        "OUT/ROW, evaluate it with K importance samples on the test split "
        "(the validation split when the "
        "data holds no test split, saying so), and write OUT/reproduction.{json,md,html} with "
        "learning curves. A run cut short by --max-epochs/--time-budget continues with --resume.",
    )
    p.add_argument("rows", nargs="*", metavar="ROW", help="rows to run (see --list)")
    p.add_argument(
        "--list",
        action="store_true",
        help="list the rows (every row, or the ROWs named): paper, model, published nats, "
        "epochs, cpu/gpu; with --out, what each reached there (its score, or its epochs so far, "
        "best validation loss and the pid training it now)",
    )
    o.add_out_folder(p, "the runs (OUT/ROW) and the table", required=False)
    o.add_data_dir(p, ", binarized_mnist.npz for the papers' rows")
    o.add_device(p, None, "override every recipe's device (default: each recipe's own)")
    limit = p.add_mutually_exclusive_group()
    limit.add_argument(
        "--max-epochs",
        type=o.positive_int("--max-epochs"),
        default=None,
        help="train each row to at most N epochs in all",
    )
    limit.add_argument(
        "--time-budget",
        type=o.positive_float("--time-budget"),
        default=None,
        metavar="MINUTES",
        help="stop each row's training at the epoch boundary before MINUTES pass (checkpointed)",
    )
    p.add_argument("--resume", action="store_true", help="continue rows already in OUT")
    o.add_num_particles(p, 5000, short=False)
    o.add_num_images(
        p,
        help="evaluate on the first N images of the split (default: all; K=5000 on 10,000 "
        "images is long on a CPU)",
    )
    p.add_argument(
        "--data",
        default=None,
        help="train on another dataset than the recipe's (e.g. digits-binary, for a smoke test)",
    )
    o.add_overrides(p, "a recipe key in every row")
    o.add_threads(p, None, "torch's")
    o.add_json(
        p,
        "print one JSON line per row run (row, published and measured nats, interval, gap, "
        "split, K, epochs, how it stopped) instead of the summary",
    )
    o.add_no_progress(p)
    p.set_defaults(func=run)


#: the keys of a row ``--json`` prints
SUMMARY_KEYS = (
    "row",
    "published_nats",
    "measured_nats",
    "ci95",
    "gap_nats",
    "split",
    "num_particles",
    "epochs_run",
    "recipe_epochs",
    "stopped",
)


def _summary(r: dict) -> str:
    """One row in words: ``hvae-vamp: -85.15 nats [-86.55, -83.78] on valid (K = 5000, 1000
    images); published -83.19 (test), gap -1.96; 338 of 2000 epochs, stopped by
    early-stopping``; the epochs planned are the run's (a ``--set epochs=N`` changes them)."""
    from evaluation.tables import format_value, printable

    lo, hi = r["ci95"]
    overrides = r.get("overrides") if isinstance(r.get("overrides"), dict) else {}
    planned = overrides.get("epochs", r["recipe_epochs"])
    how = f"stopped by {r['stopped']}" if r.get("stopped") else "all its epochs run"
    return printable(
        f"{r['row']}: {format_value(r['measured_nats'], '.2f')} nats "
        f"[{format_value(lo, '.2f')}, {format_value(hi, '.2f')}] on {r['split']} "
        f"(K = {r['num_particles']}, {r['num_images']} images); published "
        f"{format_value(r['published_nats'], '.2f')} (test), gap "
        f"{format_value(r['gap_nats'], '+.2f')}; {r['epochs_run']} of {planned} epochs, {how}"
        + (" (cut short: --resume continues it)" if r.get("cut_short") else "")
    )


def run(args) -> int:
    from evaluation.reproduce import format_list, list_recipes, load_recipes, reproduce
    from evaluation.tables import printable
    from inference.config import ConfigError, parse_overrides
    from inference.out_path import check_folder_out

    if args.list:
        # options of a run have nothing to list: said, not ignored with exit 0
        ignored = [
            flag
            for flag, given in (
                ("--resume", args.resume),
                ("--set", args.set),
                ("--data", args.data is not None),
                ("--data-dir", args.data_dir is not None),
                ("--device", args.device is not None),
                ("--max-epochs", args.max_epochs is not None),
                ("--time-budget", args.time_budget is not None),
                ("--num-images", args.num_images is not None),
                ("--json", args.json),
            )
            if given
        ]
        if ignored:
            raise ConfigError(
                f"--list: expected only ROWs and --out beside it (it lists rows, and what each "
                f"reached in --out); found {', '.join(ignored)}, which only a run of rows reads"
            )
        done = None
        if args.out is not None:  # what each row reached there: its row files, read as data
            from evaluation.reproduction_table import read_row
            from pgm.validation import what_is

            out = Path(args.out)
            if not args.out or not out.is_dir():
                found = (
                    "an empty path"
                    if not args.out
                    else "no such folder"
                    if not out.exists()
                    else what_is(out)
                )
                raise ConfigError(
                    f"--out: expected a folder written by pgm reproduce; found {found}: "
                    f"{args.out!r}"
                )
            # each row's score, and how far its run folder has got (epochs, best validation
            # loss, a process training it now): read as data, nothing in the folder is run; a
            # row file that cannot be read is said on its row, not a refusal of the listing
            from evaluation.recipes import ROW_FILE
            from evaluation.row_progress import row_progress

            done = {}
            for r in list_recipes():
                folder, path = out / r.row, out / r.row / ROW_FILE
                scored = None
                if path.exists() or path.is_symlink():
                    try:
                        scored = read_row(path)
                    except ConfigError:
                        scored = "unreadable"
                begun = (folder / "config.json").is_file()
                if scored is not None or begun:
                    done[r.row] = (scored, row_progress(folder) if begun else None)
        # `--list ROW ...` lists those rows (each checked as a run checks it: an unknown one is
        # refused, not passed over for the whole list)
        listed = load_recipes(args.rows) if args.rows else list_recipes()
        sys.stdout.write(format_list(listed, done))
        return 0
    if not args.out:
        raise ConfigError("--out: expected a folder for the runs and the table; found none")
    check_folder_out(args.out, "--out", holds_runs=True)  # may hold runs, not be inside one
    overrides = parse_overrides(args.set)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    if args.data is not None:
        overrides["data"] = args.data
    rows = reproduce(
        args.rows,
        args.out,
        time_budget_minutes=args.time_budget,
        data_dir=args.data_dir,
        device=args.device,
        max_epochs=args.max_epochs,
        resume=args.resume,
        num_particles=args.num_particles,
        num_images=args.num_images,
        overrides=overrides,
        progress=not args.no_progress,
    )
    for r in rows:
        if r["row"] in args.rows:
            if args.json:
                print(json.dumps({k: r[k] for k in SUMMARY_KEYS}))
            else:
                print(_summary(r))
    print(f"table: {printable(str(Path(args.out) / 'reproduction.md'))}", file=sys.stderr)
    return 0 if all(math.isfinite(r["measured_nats"]) for r in rows) else 1
