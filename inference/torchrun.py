"""The torchrun entry point: ``torchrun --nproc_per_node=N -m inference.torchrun CONFIG --out RUN``.

Every process runs :func:`inference.distributed.train_distributed` with the same arguments;
rank 0 writes the run folder and prints the one-line JSON summary ``pgm train`` prints. The
same command line serves one machine (``--nproc_per_node``) and several (``--nnodes``,
``--node_rank``, ``--master_addr``, ``--master_port``: torchrun's own options), e.g.::

    torchrun --nproc_per_node=2 -m inference.torchrun configs/vae-binarized-mnist.toml \\
        --out runs/vae-ddp --data-dir ../shared/data --set epochs=5
    torchrun --nproc_per_node=2 -m inference.torchrun --out runs/vae-ddp --resume --set epochs=10
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from pgm.errors import PgmError

from .run_config import train_command

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchrun ... -m inference.torchrun",
        description="Train a pgm model with DistributedDataParallel, one process per device.",
    )
    p.add_argument(
        "config", nargs="?", help="TOML config (optional with --resume: the run's own is used)"
    )
    p.add_argument("--out", required=True, help="the run folder (written by rank 0)")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="import a plug-in first (a module name or a .py file), as pgm train --plugin; "
        "repeatable, recorded in the run",
    )
    p.add_argument("--data-dir", default=None, help="folder with the .npz data files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # the same config reading, checks and summary as `pgm train` (inference/run_config.py)
        from pgm.configs import resolve_config_path  # issue 22: shipped configs by name

        summary = train_command(
            None if args.config is None else resolve_config_path(args.config),
            args.out,
            resume=args.resume,
            sets=args.set,
            plugins=args.plugin,
            data_dir=args.data_dir,
            progress=not args.no_progress,
            distributed=True,
        )
    except PgmError as err:  # bad input (config, checkpoint, data, contract): one line
        if os.environ.get("PGM_DEBUG"):
            raise
        print(f"inference.torchrun: error: {_one_line(err)}", file=sys.stderr)
        return 2
    if summary is not None:
        print(json.dumps(summary))
    return 0


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return " ".join(lines) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
