"""``python -m benchmarks [--quick] [--only NAME ...] [--write-results PATH]``: run the benchmarks,
one JSON line each (see :mod:`benchmarks`)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

import torch

from . import BENCHMARKS
from .results import write_results
from .timing import machine, set_clock

__all__ = ["main"]


def _default_data_dir() -> str | None:
    if os.environ.get("PGM_DATA_DIR"):
        return os.environ["PGM_DATA_DIR"]
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    return str(shared) if shared.is_dir() else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="fewer rounds and smaller sizes (about 1-2 minutes)"
    )
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: the ratios measure work per step; "
        "0 keeps torch's default)",
    )
    p.add_argument(
        "--clock", choices=("cpu", "wall"), default="cpu", help="the clock ratios are computed on"
    )
    p.add_argument(
        "--data-dir",
        default=_default_data_dir(),
        help="folder with binarized_mnist.npz (default: $PGM_DATA_DIR, else ../shared/data beside "
        "the repository when it is there; synthetic images of the same shape otherwise)",
    )
    p.add_argument(
        "--write-results", metavar="PATH", help="also write the table of results (markdown) here"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    set_clock(args.clock)
    names = args.only or list(BENCHMARKS)
    host = machine()
    print(
        json.dumps({"name": "machine", **host, "clock": args.clock, "quick": args.quick}),
        flush=True,
    )
    results, started = [], time.perf_counter()
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        began = time.perf_counter()
        try:
            result = module.run(args.quick, data_dir=args.data_dir)
        except Exception as err:  # one benchmark failing must not hide the others' numbers
            result = {"name": name, "error": f"{type(err).__name__}: {err}", "passed": False}
        result["seconds"] = round(time.perf_counter() - began, 1)
        results.append(result)
        print(json.dumps(result), flush=True)
    total = time.perf_counter() - started
    if args.write_results:
        write_results(Path(args.write_results), results, host, args, total)
    return 0 if all(r.get("passed", True) is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
