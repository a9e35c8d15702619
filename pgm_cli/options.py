"""The command-line options several ``pgm`` commands share, each declared once (flag, type,
default, choices, help), with what differs between commands (a default, what the value is
for) as arguments; and the argument types that refuse a bad value in one line.

argparse prefixes a type's message with ``argument NAME:``, so the types do not repeat the
name; their ``__name__`` is the flag, which argparse shows where it reports the type itself.
"""

from __future__ import annotations

import argparse

__all__ = [
    "DEFAULT_NUM_PARTICLES",
    "DEVICES",
    "MAX_AIS_CHAINS",
    "MAX_AIS_STEPS",
    "MAX_LEAPFROG",
    "SPLITS",
    "add_ais_options",
    "add_common",
    "add_data_dir",
    "add_device",
    "add_json",
    "add_method",
    "add_no_progress",
    "add_num_images",
    "add_num_particles",
    "add_out_folder",
    "add_overrides",
    "add_plugin",
    "add_png_out",
    "add_run",
    "add_seed",
    "add_split",
    "add_threads",
    "count",
    "positive_float",
    "positive_int",
    "seed",
]

SPLITS = ("train", "valid", "test")
DEVICES = ("cpu", "cuda", "auto")


def _estimator_defaults():
    """:mod:`evaluation.defaults` read without running ``evaluation/__init__`` (which loads
    torch and Pyro), so that ``pgm --help`` stays fast; registered in ``sys.modules`` so that
    every later import of it is this same module."""
    import importlib.util
    import sys
    from pathlib import Path

    name = "evaluation.defaults"
    if name not in sys.modules:
        package = importlib.util.find_spec("evaluation")
        path = Path(package.submodule_search_locations[0]) / "defaults.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


_D = _estimator_defaults()
DEFAULT_CHAINS, DEFAULT_LEAPFROG, DEFAULT_STEPS = (
    _D.DEFAULT_CHAINS,
    _D.DEFAULT_LEAPFROG,
    _D.DEFAULT_STEPS,
)
DEFAULT_NUM_PARTICLES = _D.DEFAULT_NUM_PARTICLES
MAX_AIS_CHAINS, MAX_AIS_STEPS, MAX_LEAPFROG = _D.MAX_AIS_CHAINS, _D.MAX_AIS_STEPS, _D.MAX_LEAPFROG


# -- argument types ----------------------------------------------------------------------------
def _checked(name: str, kind: type, expected: str, ok, maximum: int | None = None):
    """A type converting with ``kind`` and refusing, as "expected ...; found ...", a value
    that does not convert, fails ``ok`` or exceeds ``maximum``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}; found {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}; found {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected {expected} <= {maximum:,}; found {value:,}")
        return value

    parse.__name__ = name
    return parse


def positive_int(name: str, maximum: int | None = None):
    """An integer >= 1 (and <= ``maximum``)."""
    return _checked(name, int, "a positive integer", lambda v: v >= 1, maximum)


def positive_float(name: str):
    """A number > 0 (NaN refused)."""
    return _checked(name, float, "a positive number", lambda v: v > 0)


def count(name: str):
    """An integer >= 0 (0: none)."""
    return _checked(name, int, "an integer >= 0", lambda v: v >= 0)


#: A seed torch and NumPy accept: an integer in [0, 2^63).
seed = _checked("--seed", int, "an integer seed in [0, 2^63)", lambda v: 0 <= v < 2**63)


# -- options -----------------------------------------------------------------------------------
def add_run(p, of: str = "") -> None:
    """The positional ``run``: a run folder written by ``pgm train`` (``of``: which model)."""
    p.add_argument(
        "run",
        type=folder_path,
        help=f"run folder{' of ' + of if of else ''} written by `pgm train`",
    )


def add_plugin(p) -> None:
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="import a plug-in first (a module name or a .py file) whose parts and models "
        "register with pgm's decorators; repeatable (train records it in the run)",
    )


def folder_path(text: str) -> str:
    """A folder's path, not an empty one (``--data-dir=`` silently meant the current folder)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a folder; found an empty path")
    return text


def add_data_dir(p, note: str = "") -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        type=folder_path,
        metavar="FOLDER",
        help=f"folder with .npz / torchvision files{note} (default: $PGM_DATA_DIR or ~/.pgm/data)",
    )


def add_device(p, default: str | None = "auto", help: str | None = None) -> None:
    p.add_argument(
        "--device",
        default=default,
        choices=DEVICES,
        help=help or "where to run (default: auto, the GPU when torch sees one)",
    )


def add_no_progress(p, note: str = "") -> None:
    p.add_argument("--no-progress", action="store_true", help=f"no progress bars{note}")


def add_common(p, data_dir: bool = True, device: bool = True, progress: bool = True) -> None:
    """``--plugin`` (every command), and ``--data-dir``, ``--device``, ``--no-progress``
    where the command reads data, runs a model, draws a progress bar."""
    add_plugin(p)
    if data_dir:
        add_data_dir(p)
    if device:
        add_device(p)
    if progress:
        add_no_progress(p)


def add_seed(p, of: str) -> None:
    p.add_argument("--seed", type=seed, default=0, help=f"seed of {of} (default 0)")


def particle_count(name: str):
    """A K of the estimator: an integer >= 1 and at most
    :data:`evaluation.log_likelihood.MAX_PARTICLES`, read when a value is given (building the
    parser imports no torch)."""

    def checked(text: str) -> int:
        from evaluation.log_likelihood import MAX_PARTICLES

        return positive_int(name, MAX_PARTICLES)(text)

    checked.__name__ = name
    return checked


def add_num_particles(p, default: int | None, note: str = "", short: bool = True) -> None:
    """``--num-particles`` (and ``-k`` with ``short``): the estimator's K, at most
    :data:`evaluation.log_likelihood.MAX_PARTICLES` (read when a value is given, so that
    building the parser imports no torch)."""

    p.add_argument(
        "--num-particles",
        *(["-k"] if short else []),
        type=particle_count("--num-particles"),
        default=default,
        metavar="K",
        help=f"importance samples K per image for latent models (default "
        f"{note if default is None else f'{default}{note}'}; exact K = 1 for models without "
        "latents)",
    )


def add_split(p, what: str = "the data split") -> None:
    p.add_argument("--split", default="test", choices=SPLITS, help=f"{what} (default test)")


def add_num_images(
    p, default: int | None = None, help: str | None = None, minimum: int = 2
) -> None:
    """``--num-images``: at least 2 where a mean's interval is computed (1 image was refused,
    naming an internal ``values``, after the whole estimate had run)."""
    at_least = (
        positive_int("--num-images")
        if minimum == 1
        else _checked(
            "--num-images",
            int,
            f"an integer >= {minimum} (an interval needs two images)",
            lambda v: v >= minimum,
        )
    )
    p.add_argument(
        "--num-images",
        type=at_least,
        default=default,
        metavar="N",
        help=help or "evaluate on the first N images of the split only (default: all)",
    )


def add_method(p, help: str, choices: list[str] | None = ["is", "ais"]) -> None:  # noqa: B006
    """``--method``; ``help`` says what each method does for this command. ``choices=None``:
    any name, checked against the estimator registry once plug-ins are loaded."""
    p.add_argument("--method", choices=choices, default="is", metavar="NAME", help=help)


def add_ais_options(p, steps: int = DEFAULT_STEPS) -> None:
    """AIS's ``--steps``/``-T``, ``--chains``/``-C`` and ``--leapfrog``, bounded like the
    estimator (:func:`evaluation.ais.check_settings`)."""
    p.add_argument(
        "--steps",
        "-T",
        type=positive_int("--steps", MAX_AIS_STEPS),
        default=steps,
        help=f"AIS: annealing steps T (default {steps})",
    )
    p.add_argument(
        "--chains",
        "-C",
        type=positive_int("--chains", MAX_AIS_CHAINS),
        default=DEFAULT_CHAINS,
        help=f"AIS: chains per image (default {DEFAULT_CHAINS})",
    )
    p.add_argument(
        "--leapfrog",
        type=positive_int("--leapfrog", MAX_LEAPFROG),
        default=DEFAULT_LEAPFROG,
        help=f"AIS: leapfrog steps per HMC transition (default {DEFAULT_LEAPFROG})",
    )


def add_checkpoint(p, verb: str) -> None:
    """``--checkpoint best|last``: a run still training, read from its newest checkpoint
    (``pgm evaluate``, ``pgm sample``; the hint of an unfinished run names it)."""
    p.add_argument(
        "--checkpoint",
        choices=["best", "last"],
        default=None,
        help=f"{verb} a run still training from its newest checkpoint: the best validation "
        "epoch's weights so far (best) or its current weights (last), instead of "
        "model.safetensors",
    )


def add_json(p, help: str) -> None:
    p.add_argument("--json", action="store_true", help=help)


def add_overrides(p, what: str = "a config key") -> None:
    """``--set KEY=VALUE``, repeatable."""
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override {what} (VALUE in TOML syntax), repeatable",
    )


def add_threads(p, default: int | None, why: str) -> None:
    p.add_argument(
        "--threads",
        type=positive_int("--threads"),
        default=default,
        help=f"CPU threads for torch (default {why})",
    )


def add_png_out(p, name: str) -> None:
    p.add_argument("--out", default=None, help=f"PNG path (default RUN/{name})")


def add_out_folder(p, holds: str, required: bool = True) -> None:
    p.add_argument("--out", required=required, metavar="OUT", help=f"folder for {holds}")
