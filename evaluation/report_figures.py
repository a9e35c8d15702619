"""The figures of a comparison report, assembled from what the comparison learnt about each run:
the forest plot of the ranking, the estimate against K, k-hat and active units of the latent
models, and per model its samples, reconstructions, traversals, interpolations, completions,
with the training curves of all runs. The plotting itself is :mod:`.figures`; here each figure
gets its file name, caption and report section, and a model that lacks a capability gets a note.
"""

from __future__ import annotations

import torch

from inference import read_metrics
from pgm.plain_model import SamplingUnavailable

from .compared_run import ComparedRun
from .figures import (
    FigureFile,
    activity_plot,
    completion_figure,
    forest_plot,
    interpolation_figure,
    k_curve_plot,
    khat_plot,
    reconstruction_figure,
    samples_figure,
    training_curves_plot,
    traversal_figure,
)
from .progress import progress_bar

__all__ = ["report_figures"]


def report_figures(
    runs: list[ComparedRun],
    rows: list[dict],
    curves: dict,
    x: torch.Tensor,
    seed: int,
    progress: bool,
    notes: list[str],
) -> list[FigureFile]:
    """The report's figures; a capability a (plug-in) model lacks adds one line to ``notes``."""
    figs = [
        FigureFile(
            "forest.png",
            "Mean test log-likelihood with 95% BCa intervals (group letters in brackets); "
            "crosses: ELBO.",
            "ranking",
            *forest_plot(rows, with_svg=True),
        )
    ]
    # diagnostics follow the ranking's order, like the tables beside them
    latent = sorted((r for r in runs if r.has_latents), key=lambda r: r.row["rank"])
    if curves:
        figs.append(
            FigureFile(
                "k-curves.png",
                "Estimate against the number of importance samples K (±1 sd across disjoint "
                "blocks), on a subset of test images; K = 1 is the ELBO.",
                "importance",
                *k_curve_plot(curves, with_svg=True),
            )
        )
    if latent:
        figs.append(
            FigureFile(
                "khat.png",
                "PSIS k-hat per test image (dashed: 0.5 and 0.7).",
                "importance",
                *khat_plot({r.name: r.khat for r in latent}, with_svg=True),
            )
        )
        figs.append(
            FigureFile(
                "active-units.png",
                "Activity of each latent unit, sorted (dashed: the 0.01 threshold).",
                "latent",
                *activity_plot({r.name: r.activity for r in latent}, with_svg=True),
            )
        )
    pairs = min(4, x.shape[0] // 2)
    for run in progress_bar(runs, "figures", progress):
        m, n = run.model, run.name
        if run.can_sample:
            try:
                figs.append(
                    FigureFile(
                        f"samples-{n}.png",
                        f"{n}: 64 samples x ~ p(x).",
                        "samples",
                        samples_figure(m, 64, seed),
                    )
                )
            except SamplingUnavailable as err:
                notes.append(f"{n}: no sample grid ({err})")
        elif run.has_density:
            notes.append(f"{n}: no sample grid (the model gives no sample(n))")
        if run.has_codes:
            # what "decode" means differs: the autoencoder's decoder is a function of its code, a
            # VAE's is the mean of p(x|z), and an autoregressive p(x|z) (PixelVAE) has no
            # tractable mean, so each decode is one sample given z
            sampled = bool(getattr(m, "autoregressive_decoder", False))
            if not run.has_density:
                recon, decode = "decoder(encoder(x))", "decoder outputs"
            elif sampled:
                recon, decode = "one sample x ~ p(x|z = E_q[z|x])", "samples x ~ p(x|z)"
            else:
                recon, decode = "decode(E_q[z|x]), the mean of p(x|z)", "means E[x|z]"
            note = (
                " The decoder is autoregressive (a conditional PixelCNN): each image is a fresh "
                "sample given z, so neighbouring images differ in their local detail even where z "
                "barely moves; what z controls is what stays common along a row."
                if sampled
                else ""
            )
            figs.append(
                FigureFile(
                    f"reconstructions-{n}.png",
                    f"{n}: test images (top) and reconstructions {recon} (bottom).{note}",
                    "reconstructions",
                    reconstruction_figure(m, x[:16]),
                )
            )
            codes = torch.as_tensor(run.test_codes, dtype=torch.float32)
            spread = codes.var(0)
            dims = [int(d) for d in torch.argsort(spread, descending=True)[:8]]
            low, high = torch.quantile(codes, 0.02, dim=0), torch.quantile(codes, 0.98, dim=0)
            torch.manual_seed(seed)
            figs.append(
                FigureFile(
                    f"traversals-{n}.png",
                    f"{n}: one row per latent unit (the {len(dims)} most variable), swept over "
                    "its 2%–98% range on the test codes, the others fixed at the first test "
                    f"image's code; {decode}.{note}",
                    "traversals",
                    traversal_figure(m, x[:1], dims, low, high),
                )
            )
            if pairs:
                torch.manual_seed(seed)
                figs.append(
                    FigureFile(
                        f"interpolations-{n}.png",
                        f"{n}: linear interpolation between two test images' codes "
                        f"({decode}; ends: the images).{note}",
                        "interpolations",
                        interpolation_figure(m, x[:pairs], x[pairs : 2 * pairs]),
                    )
                )
        if run.is_autoregressive:
            figs.append(
                FigureFile(
                    f"completions-{n}.png",
                    f"{n}: top half observed (left), four completions, the original (right).",
                    "completions",
                    completion_figure(m, x[:8], num_samples=4, seed=seed),
                )
            )
    metrics = {r.name: read_metrics(r.path) for r in runs}
    if any(metrics.values()):
        figs.append(
            FigureFile(
                "training-curves.png",
                "Training and validation loss per epoch (each run's own objective, nats per "
                "image); dotted line and dot: the best validation epoch, whose weights are "
                "kept; panel titles flag runs still falling or over-fitting.",
                "training",
                *training_curves_plot(metrics, with_svg=True),
            )
        )
    return figs
