"""``pgm data fetch NAME``: obtain the data a recipe needs, checked and converted
(:mod:`inference.data_fetch` does the work)."""

from __future__ import annotations

import sys

from ..options import folder_path

#: the names ``pgm data fetch`` accepts (:data:`inference.data_fetch.DATASETS`, read without
#: importing it, so that ``pgm --help`` stays fast; a test checks that the two agree)
DATASET_NAMES = ("binarized-mnist", "mnist")


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "data",
        help="obtain a dataset a recipe needs (pgm data fetch NAME)",
        description="Obtain the data the recipes need: pgm data fetch NAME.",
    )
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "fetch",
        help="download a dataset a recipe needs, checked, as the .npz pgm reads",
        description="Download NAME, check every file against its published sha256, convert it "
        "to the .npz pgm reads and write it atomically into --data-dir (nothing is left behind "
        "on failure; an existing file is kept unless --force). binarized-mnist: Larochelle & "
        "Murray's .amat files (www.cs.toronto.edu/~larocheh); mnist: "
        "torchvision.datasets.MNIST.",
    )
    p.add_argument("name", metavar="NAME", choices=DATASET_NAMES, help=", ".join(DATASET_NAMES))
    p.add_argument(
        "--data-dir",
        default=None,
        type=folder_path,
        metavar="FOLDER",
        help="where to write the .npz (default: $PGM_DATA_DIR or ~/.pgm/data)",
    )
    p.add_argument(
        "--mirror",
        default=None,
        metavar="URL",
        help="a folder URL (http://HOST/..., https://HOST/... or file:///ABSOLUTE/PATH) holding "
        "the same file names, instead of the original server",
    )
    p.add_argument("--force", action="store_true", help="replace an existing .npz")
    p.set_defaults(func=run)


def run(args) -> int:
    """Prints the path written (or kept) on stdout, progress on stderr."""
    from inference.data_fetch import fetch

    path, written = fetch(
        args.name,
        args.data_dir,
        args.mirror,
        args.force,
        say=lambda line: print(f"pgm data fetch: {line}", file=sys.stderr, flush=True),
    )
    if not written:
        print(
            f"pgm data fetch: kept the existing {path} (--force fetches it again)",
            file=sys.stderr,
        )
    print(path)
    return 0
