"""``pgm sample``: draw samples from a run's model into a PNG grid."""

from __future__ import annotations

from pathlib import Path

from .. import options as o
from ..images import check_image_memory, png_out, write_png
from ..output import emit


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sample",
        help="draw samples from a run's model into a PNG grid",
        description="Ancestral samples x ~ p(x) (z ~ p(z) first for latent models); "
        "autoregressive models use the cached fast sampler unless --naive.",
    )
    o.add_run(p)
    p.add_argument(
        "-n", type=o.positive_int("-n"), default=64, help="number of samples (default 64)"
    )
    o.add_png_out(p, "samples.png")
    o.add_seed(p, "the samples")
    p.add_argument(
        "--naive",
        action="store_true",
        help="autoregressive models: recompute the whole network per pixel",
    )
    p.add_argument(
        "--scale",
        type=o.positive_int("--scale"),
        default=None,
        help="draw each pixel as SCALE×SCALE pixels (nearest neighbour; default: each image at "
        "least 56 pixels tall)",
    )
    o.add_checkpoint(p, "sample")
    o.add_json(p, "print one JSON line (samples, n, shape, weights) instead of the summary")
    o.add_common(p, data_dir=False)
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from evaluation.images import save_grid
    from inference.run import load_run_weights

    out = png_out(args.out, Path(args.run) / "samples.png")
    model, _, weights = load_run_weights(args.run, args.device, args.checkpoint)
    check_image_memory(args.n, model, "-n", args.n, args.scale)
    torch.manual_seed(args.seed)
    x = model.sample(args.n, cached=not args.naive)
    write_png(lambda: save_grid(x, model.num_levels, out, scale=args.scale), out)
    row = {"samples": str(out), "n": args.n, "shape": list(x.shape), "weights": weights.describe()}
    emit(
        args,
        row,
        lambda r: (
            f"{r['n']} samples of shape {r['shape'][1:]} in {r['samples']} "
            f"(weights: {r['weights']})"
        ),
    )
    return 0
