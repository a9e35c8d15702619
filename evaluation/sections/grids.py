"""The image-grid sections, one figure per model that can draw it: samples, reconstructions,
latent traversals, interpolations and completions (plotted by :mod:`..figures`). A model that
lacks a capability the figure needs gets a note instead."""

from __future__ import annotations

import torch

from pgm.plain_model import SamplingUnavailable

from ..compared_run import ComparedRun
from ..comparison import Comparison
from ..figures import (
    FigureFile,
    completion_figure,
    interpolation_figure,
    reconstruction_figure,
    samples_figure,
    traversal_figure,
)
from .section import Section

__all__ = [
    "COMPLETIONS",
    "INTERPOLATIONS",
    "RECONSTRUCTIONS",
    "SAMPLES",
    "TRAVERSALS",
    "figure_file",
]

_AUTOREGRESSIVE_NOTE = (
    " The decoder is autoregressive (a conditional PixelCNN): each image is a fresh sample given "
    "z, so neighbouring images differ in their local detail even where z barely moves; what z "
    "controls is what stays common along a row."
)


#: the most bytes of a run's name a figure's file name takes (a file name is at most 255 bytes
#: on most file systems: a 250-character folder name failed the report at its last step)
_NAME_BYTES = 150


def figure_file(kind: str, name: str) -> str:
    """``KIND-NAME.png``; a name too long for a file name is cut (on a character boundary) and
    told apart from its siblings by the first 8 hex digits of its sha256."""
    raw = name.encode("utf-8", "surrogatepass")
    if len(raw) <= _NAME_BYTES:
        return f"{kind}-{name}.png"
    import hashlib

    cut = raw[:_NAME_BYTES].decode("utf-8", "ignore")
    return f"{kind}-{cut}-{hashlib.sha256(raw).hexdigest()[:8]}.png"


def _decoding(run: ComparedRun) -> tuple[str, str, str]:
    """What "decode" means for ``run``'s model: ``(reconstruction, decodes, note)``. The
    autoencoder's decoder is a function of its code, a VAE's is the mean of p(x|z), and an
    autoregressive p(x|z) (PixelVAE) has no tractable mean, so each decode is one sample."""
    if not run.has_density:
        return "decoder(encoder(x))", "decoder outputs", ""
    if getattr(run.model, "autoregressive_decoder", False):
        return "one sample x ~ p(x|z = E_q[z|x])", "samples x ~ p(x|z)", _AUTOREGRESSIVE_NOTE
    return "decode(E_q[z|x]), the mean of p(x|z)", "means E[x|z]", ""


def _samples(c: Comparison) -> list[FigureFile]:
    figs = []
    for run in c.runs:
        if run.can_sample:
            try:
                png = samples_figure(run.model, 64, c.options.seed)
            except SamplingUnavailable as err:
                c.notes.append(f"{run.name}: no sample grid ({err})")
                continue
            figs.append(
                FigureFile(
                    figure_file("samples", run.name),
                    f"{run.name}: 64 samples x ~ p(x).",
                    "samples",
                    png,
                )
            )
        elif run.has_density:
            c.notes.append(f"{run.name}: no sample grid (the model gives no sample(n))")
    return figs


def _reconstructions(c: Comparison) -> list[FigureFile]:
    figs = []
    for run in (r for r in c.runs if r.has_codes):
        recon, _, note = _decoding(run)
        torch.manual_seed(c.options.seed)
        figs.append(
            FigureFile(
                figure_file("reconstructions", run.name),
                f"{run.name}: test images (top) and reconstructions {recon} (bottom).{note}",
                "reconstructions",
                reconstruction_figure(run.model, c.x[:16]),
            )
        )
    return figs


def _traversals(c: Comparison) -> list[FigureFile]:
    figs = []
    for run in (r for r in c.runs if r.has_codes):
        _, decode, note = _decoding(run)
        codes = torch.as_tensor(run.test_codes, dtype=torch.float32)
        dims = [int(d) for d in torch.argsort(codes.var(0), descending=True)[:8]]
        low, high = torch.quantile(codes, 0.02, dim=0), torch.quantile(codes, 0.98, dim=0)
        torch.manual_seed(c.options.seed)
        figs.append(
            FigureFile(
                figure_file("traversals", run.name),
                f"{run.name}: one row per latent unit (the {len(dims)} most variable), swept over "
                "its 2%–98% range on the test codes, the others fixed at the first test "
                f"image's code; {decode}.{note}",
                "traversals",
                traversal_figure(run.model, c.x[:1], dims, low, high),
            )
        )
    return figs


def _interpolations(c: Comparison) -> list[FigureFile]:
    pairs = min(4, c.x.shape[0] // 2)
    figs = []
    for run in (r for r in c.runs if r.has_codes and pairs):
        _, decode, note = _decoding(run)
        torch.manual_seed(c.options.seed)
        figs.append(
            FigureFile(
                figure_file("interpolations", run.name),
                f"{run.name}: linear interpolation between two test images' codes "
                f"({decode}; ends: the images).{note}",
                "interpolations",
                interpolation_figure(run.model, c.x[:pairs], c.x[pairs : 2 * pairs]),
            )
        )
    return figs


def _completions(c: Comparison) -> list[FigureFile]:
    return [
        FigureFile(
            figure_file("completions", run.name),
            f"{run.name}: top half observed (left), four completions, the original (right).",
            "completions",
            completion_figure(run.model, c.x[:8], num_samples=4, seed=c.options.seed),
        )
        for run in c.runs
        if run.is_autoregressive
    ]


SAMPLES = Section("samples", "Samples", figures=_samples)
RECONSTRUCTIONS = Section("reconstructions", "Reconstructions", figures=_reconstructions)
TRAVERSALS = Section("traversals", "Latent traversals", figures=_traversals)
INTERPOLATIONS = Section("interpolations", "Interpolations", figures=_interpolations)
COMPLETIONS = Section("completions", "Completions", figures=_completions)
