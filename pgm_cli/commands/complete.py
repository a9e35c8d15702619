"""``pgm complete``: complete partly observed images with an autoregressive run."""

from __future__ import annotations

from pathlib import Path

from .. import options as o
from ..images import check_image_memory, png_out, write_png
from ..output import emit


def add_parser(sub) -> None:
    p = sub.add_parser(
        "complete",
        help="complete partly observed images with an autoregressive run",
        description="Sample the unobserved pixels given the observed ones (the image-completion "
        "figure of the PixelRNN paper).",
    )
    o.add_run(p, "an autoregressive model")
    p.add_argument(
        "--input",
        default="test",
        help="a split name (train/valid/test) or an .npy/.npz file of images (N, C, H, W)",
    )
    p.add_argument(
        "--observed",
        default="top-half",
        help="which pixels are observed: top-half, bottom-half, left-half, right-half, center "
        "(default top-half: exact, every observed pixel precedes every missing one in raster "
        "order; the others by sampling importance resampling, see --candidates)",
    )
    p.add_argument(
        "--candidates",
        type=o.positive_int("--candidates"),
        default=100,
        help="raster completions drawn per image and reweighted by the probability of the "
        "observed pixels that come later (sampling importance resampling); the effective "
        "sample size printed says how close (default 100; the top half needs 1)",
    )
    p.add_argument("-n", type=o.positive_int("-n"), default=8, help="number of images (default 8)")
    p.add_argument(
        "--samples",
        type=o.positive_int("--samples"),
        default=4,
        help="completions per image (default 4)",
    )
    o.add_png_out(p, "completions.png")
    o.add_seed(p, "the completions")
    o.add_json(p, "print one JSON line (completions, n, columns) instead of the summary")
    o.add_plugin(p)
    o.add_data_dir(p)
    o.add_device(p)
    o.add_no_progress(p, " (accepted like every command's; completion draws none)")
    p.set_defaults(func=run)


def _images(args, model, cfg):
    """The images to complete: the first ``-n`` of a split, or of an .npy/.npz file."""
    import numpy as np
    import torch

    from pgm.data import config_dataset
    from pgm.data.npz import load_image_array

    from ..errors import UsageError

    source = args.input
    if source in ("train", "valid", "test"):
        return config_dataset(cfg, source, args.data_dir).float_images()[: args.n]
    path = Path(source)
    if not path.is_file():
        found = "a folder" if path.is_dir() else "no such file"
        raise UsageError(
            "--input: expected a split name (train, valid, test) or an .npy/.npz file; "
            f"found {found}: {source!r}"
        )
    arr = load_image_array(path, model.num_levels, "--input")
    x = torch.as_tensor(np.asarray(arr).astype(np.float32))
    if x.dim() == len(model.event_shape):
        x = x.unsqueeze(0)
    return x[: args.n]


def run(args) -> int:
    import torch

    from evaluation.completion_command import complete_and_draw, observed_first
    from inference import load_run
    from pgm.completion import MASKS, observed_mask

    from ..errors import UsageError

    if args.observed not in MASKS:
        raise UsageError(f"--observed: expected one of {', '.join(MASKS)}; found {args.observed!r}")
    out = png_out(args.out, Path(args.run) / "completions.png")
    model, cfg = load_run(args.run, device=args.device)
    x = _images(args, model, cfg)
    model.check_data(x, "--input")
    mask = observed_mask(args.observed, model.event_shape).to(model.device)
    # SIR's candidates only where the mask needs them (top-half is exact: none drawn)
    candidates = 0 if observed_first(mask) else args.candidates
    shown = int(x.shape[0]) * (args.samples + 2)
    drawn = int(x.shape[0]) * (candidates + args.samples) * 2
    flag = "--samples" if args.samples >= candidates else "--candidates"
    check_image_memory(drawn, model, flag, shown)
    torch.manual_seed(args.seed)
    row: dict = {}
    write_png(
        lambda: row.update(complete_and_draw(model, x.to(model.device), mask, args, out)), out
    )
    emit(args, row, _summary)
    return 0


def _summary(r: dict) -> str:
    ess = r.get("effective_sample_size")
    tail = (
        ""
        if ess is None
        else f"; effective sample size per image: median {sorted(ess)[len(ess) // 2]:.1f} "
        f"of {r['candidates']} (min {min(ess):.1f})"
    )
    return (
        f"{r['n']} images, {r['samples_per_image']} completions each (columns: observed, "
        f"completions, original) in {r['completions']}\nmethod: {r['method']}{tail}"
    )
