"""The torchrun entry point: ``torchrun --nproc_per_node=N -m pgm_cli.torchrun CONFIG --out RUN``.

Every process trains with :func:`inference.distributed.train_distributed` from the same
arguments, which are ``pgm train``'s own (:func:`pgm_cli.commands.train.add_arguments`); rank 0
writes the run folder and prints the summary ``pgm train`` prints. The same command line
serves one machine (``--nproc_per_node``) and several (``--nnodes``, ``--node_rank``,
``--master_addr``, ``--master_port``: torchrun's own options), e.g.::

    torchrun --nproc_per_node=2 -m pgm_cli.torchrun vae-binarized-mnist \\
        --out runs/vae-ddp --data-dir ../shared/data --set epochs=5
    torchrun --nproc_per_node=2 -m pgm_cli.torchrun --out runs/vae-ddp --resume --set epochs=10
"""

from __future__ import annotations

import argparse
import os
import sys

from .commands.train import add_arguments, train
from .main import one_line

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchrun ... -m pgm_cli.torchrun",
        description="Train a pgm model with DistributedDataParallel, one process per device.",
    )
    add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pgm.errors import PgmError

    try:  # --plugin is recorded in the run's config, which loads it (as pgm train's does)
        return train(args, distributed=True)
    except PgmError as err:  # bad input (config, checkpoint, data, contract): one line
        if os.environ.get("PGM_DEBUG"):
            raise
        print(f"pgm_cli.torchrun: error: {one_line(err)}", file=sys.stderr)
        return 2


def _exit(code: int) -> None:
    """Leave without the interpreter's teardown, once output is flushed: a rank whose training
    and files were done still aborted there now and then ("terminate called without an active
    exception", SIGABRT from a C++ thread torch.distributed left behind; 1 job in about 25 on
    a loaded 2-core machine), which torchrun reports as the job failing."""
    import logging

    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
