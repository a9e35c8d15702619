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
        "(default top-half; exact for top-half, where every observed pixel precedes every "
        "missing one in raster order)",
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

    from evaluation.images import save_grid
    from inference import load_run
    from pgm.completion import MASKS, complete, observed_mask

    from ..errors import UsageError

    if args.observed not in MASKS:
        raise UsageError(f"--observed: expected one of {', '.join(MASKS)}; found {args.observed!r}")
    out = png_out(args.out, Path(args.run) / "completions.png")
    model, cfg = load_run(args.run, device=args.device)
    x = _images(args, model, cfg)
    model.check_data(x, "--input")
    check_image_memory(int(x.shape[0]) * args.samples * 2, model, "--samples")
    mask = observed_mask(args.observed, model.event_shape).to(model.device)
    torch.manual_seed(args.seed)
    x = x.to(model.device)
    # each image repeated --samples times: every copy gets its own completion
    repeated = x.repeat_interleave(args.samples, 0)
    completed = complete(model, repeated, mask).reshape(
        x.shape[0], args.samples, *model.event_shape
    )
    # one row per image: what was observed, the completions, the original (as the report shows it)
    shown = torch.cat([(x * mask).unsqueeze(1), completed.to(x.dtype), x.unsqueeze(1)], 1)
    grid = shown.reshape(-1, *model.event_shape)
    write_png(lambda: save_grid(grid, model.num_levels, out, nrow=shown.shape[1]), out)
    row = {
        "completions": str(out),
        "n": int(x.shape[0]),
        "samples_per_image": args.samples,
        "columns": ["observed", *["completion"] * args.samples, "original"],
    }
    emit(
        args,
        row,
        lambda r: (
            f"{r['n']} images, {r['samples_per_image']} completions each "
            f"(columns: observed, completions, original) in {r['completions']}"
        ),
    )
    return 0
