"""The report's figures, each returned as PNG bytes: image grids (samples, reconstructions,
latent traversals, interpolations, completions) through torchvision's ``make_grid``, and plots
(forest plot, estimate against K, PSIS k-hat, unit activity, training curves) through
matplotlib's object API with the Agg canvas (no pyplot state, no display needed). Plots come as
150-dpi PNGs and, with ``with_svg=True``, as SVG too (vector, for a paper); grids are upscaled
nearest-neighbour so that each image is at least :data:`~.images.MIN_IMAGE_PIXELS` tall."""

from __future__ import annotations

import contextlib
import io
import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from pgm.errors import PgmWarning

from .diagnostics import ACTIVE_UNIT_THRESHOLD, KHAT_GOOD, KHAT_UNRELIABLE
from .images import grid_png

__all__ = [
    "plain",
    "FigureFile",
    "activity_plot",
    "completion_figure",
    "forest_plot",
    "interpolation_figure",
    "k_curve_plot",
    "khat_plot",
    "plot_bytes",
    "plot_figure",
    "reconstruction_figure",
    "samples_figure",
    "training_curves_plot",
    "traversal_figure",
]


@dataclass
class FigureFile:
    """One figure of the report: ``name`` (file name under ``figures/``), ``caption``, the
    report ``section`` it belongs to, the PNG bytes, and for plots the same figure as SVG
    (written beside the PNG as ``name`` with ``.svg``)."""

    name: str
    caption: str
    section: str
    png: bytes
    svg: bytes | None = None

    @property
    def svg_name(self) -> str | None:
        return None if self.svg is None else self.name.rsplit(".", 1)[0] + ".svg"


def plot_bytes(fig, with_svg: bool = False):
    """A matplotlib figure as 150-dpi PNG bytes, or ``(png, svg)`` with ``with_svg``; the SVG
    carries no creation date and a fixed id salt, so the same figure gives the same file."""
    import matplotlib

    buffer = io.BytesIO()
    with _glyphs_missing_said_once():
        fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
        if not with_svg:
            return buffer.getvalue()
        vector = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": "pgm"}):
            fig.savefig(vector, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue(), vector.getvalue()


@contextlib.contextmanager
def _glyphs_missing_said_once():
    """matplotlib warns once per character and drawing of a label its font cannot draw (a run
    folder named in CJK gave 140 lines on stderr); they are gathered into one warning naming
    the characters (those not named before in this process), which the figure shows as
    boxes."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            missing, other = [], []
            for w in caught:
                found = _MISSING_GLYPH.search(str(w.message))
                (missing.append(chr(int(found.group(1)))) if found else other.append(w))
    for w in other:  # every other warning as it was
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    chars = "".join(c for c in dict.fromkeys(missing) if c not in _GLYPHS_SAID)
    if chars:  # once per character and process: a compare draws many figures of the names
        _GLYPHS_SAID.update(chars)
        warnings.warn(
            f"figures: the font has no glyph for {chars!r} (in a model's or run's name); "
            "those characters show as boxes in the figures",
            PgmWarning,
            stacklevel=3,
        )


#: the characters already said to lack a glyph, in this process
_GLYPHS_SAID: set[str] = set()

#: matplotlib's "Glyph 21464 (\N{CJK UNIFIED IDEOGRAPH-53D8}) missing from font(s) DejaVu Sans."
_MISSING_GLYPH = re.compile(r"Glyph (\d+) \(.*?\) missing from (?:current )?font")


def plain(name: str) -> str:
    """A model's or run's name as matplotlib draws it, literally: each ``$`` escaped (a pair
    of them starts mathtext: a run named ``p$\\frac$q`` raised in its parser, ``a$x$`` was
    drawn as a formula), control characters as Python writes them (a newline drew two
    lines)."""
    from .tables import printable  # a newline as \n, as in the tables

    return printable(str(name)).replace("$", r"\$")


def plot_figure(width: float, height: float):
    """An empty matplotlib ``Figure`` of ``width`` × ``height`` inches on the Agg canvas
    (object API, no pyplot state), constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


#: Okabe & Ito (2008)'s palette, distinguishable with every common colour-vision deficiency
OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}


# -- image grids ----------------------------------------------------------------------------
@torch.no_grad()
def samples_figure(model, num_samples: int = 64, seed: int = 0) -> bytes:
    """``num_samples`` ancestral samples x ~ p(x) in a square grid."""
    torch.manual_seed(seed)
    return grid_png(model.sample(num_samples).cpu(), model.num_levels)


@torch.no_grad()
def reconstruction_figure(model, x: torch.Tensor) -> bytes:
    """Originals ``x: (n, C, H, W)`` (top row) above ``decode(encode(x))`` (bottom row)."""
    x = x.to(model.device).float()
    recon = model.reconstruct(x).reshape(x.shape)
    return grid_png(torch.cat([x, recon]).cpu(), model.num_levels, nrow=x.shape[0])


@torch.no_grad()
def traversal_figure(
    model, x0: torch.Tensor, dims: list[int], low: torch.Tensor, high: torch.Tensor, steps: int = 9
) -> bytes:
    """One row per latent dimension in ``dims``: the code of ``x0: (1, C, H, W)`` with that
    dimension swept from ``low[d]`` to ``high[d]`` (``(L,)`` each), the others held fixed."""
    z0 = model.encode(x0.to(model.device).float())  # (1, L)
    rows = []
    for d in dims:
        z = z0.repeat(steps, 1)
        z[:, d] = torch.linspace(float(low[d]), float(high[d]), steps, device=z.device)
        rows.append(model.decode(z).reshape(steps, *model.event_shape))
    return grid_png(torch.cat(rows).cpu(), model.num_levels, nrow=steps)


@torch.no_grad()
def interpolation_figure(model, xa: torch.Tensor, xb: torch.Tensor, steps: int = 10) -> bytes:
    """One row per pair: image a, decodes of (1 − t) z_a + t z_b for t in [0, 1], image b."""
    xa, xb = xa.to(model.device).float(), xb.to(model.device).float()
    za, zb = model.encode(xa), model.encode(xb)  # (P, L)
    t = torch.linspace(0, 1, steps, device=za.device)[None, :, None]
    z = (1 - t) * za[:, None] + t * zb[:, None]  # (P, steps, L)
    decoded = model.decode(z.reshape(-1, z.shape[-1])).reshape(
        xa.shape[0], steps, *model.event_shape
    )
    shown = torch.cat([xa[:, None], decoded, xb[:, None]], 1)
    return grid_png(shown.reshape(-1, *model.event_shape).cpu(), model.num_levels, nrow=steps + 2)


@torch.no_grad()
def completion_figure(
    model, x: torch.Tensor, num_samples: int = 4, observed: str = "top-half", seed: int = 0
) -> bytes:
    """One row per image: the observed part, ``num_samples`` completions, the original (the
    image-completion figure of the PixelRNN paper)."""
    from pgm.completion import complete, observed_mask

    x = x.to(model.device).float()
    mask = observed_mask(observed, model.event_shape).to(model.device)
    torch.manual_seed(seed)
    # each image repeated: one completion per copy, drawn in one batch
    repeated = x.repeat_interleave(num_samples, 0)
    completed = complete(model, repeated, mask).reshape(x.shape[0], num_samples, *model.event_shape)
    shown = torch.cat([(x * mask)[:, None], completed.to(x.device).float(), x[:, None]], 1)
    return grid_png(
        shown.reshape(-1, *model.event_shape).cpu(), model.num_levels, nrow=num_samples + 2
    )


# -- plots ----------------------------------------------------------------------------------
def forest_plot(rows: list[dict], with_svg: bool = False):
    """Mean test log-likelihood per model (nats) with its 95% bootstrap interval, best on top;
    ``rows`` are results.json's model rows in rank order."""
    from matplotlib.lines import Line2D

    fig = plot_figure(6.4, 0.45 * len(rows) + 1.5)
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    means = np.array([r["log_likelihood_nats"] for r in rows])
    lo = means - np.array([r["ci95"][0] for r in rows])
    hi = np.array([r["ci95"][1] for r in rows]) - means
    ax.errorbar(means, y, xerr=[lo, hi], fmt="o", color="C0", ecolor="C0", capsize=3)
    # proxy handles: the legend shows a clean dot-on-a-line and a cross, not an errorbar glyph
    handles = [Line2D([], [], color="C0", marker="o", lw=1.5, label="log p(x), 95% CI")]
    elbo = [
        (r["elbo_nats"], yy)
        for r, yy in zip(rows, y, strict=True)
        if r.get("elbo_nats") is not None
    ]
    if elbo:
        ax.plot(*zip(*elbo, strict=True), "x", color="C1")
        handles.append(Line2D([], [], color="C1", marker="x", ls="none", label="ELBO"))
    labels = [f"{plain(r['model'])} ({r.get('group', '')})" for r in rows]
    return _forest_finish(fig, ax, y, labels, handles, with_svg)


def _forest_finish(fig, ax, y, labels: list[str], handles: list, with_svg: bool):
    """A forest plot's rows labelled, its axis, grid and legend below, as bytes: one look
    for the networks' forest and the models' over their seeds."""
    ax.set_yticks(y, labels)
    ax.set_xlabel("mean test log-likelihood (nats per image; higher is better)")
    ax.grid(axis="x", alpha=0.3)
    ax.margins(y=0.5 / max(len(labels), 1))
    fig.legend(
        handles=handles, loc="outside lower center", ncols=2, fontsize="small", frameon=False
    )
    return plot_bytes(fig, with_svg)


def seed_forest_plot(models: list[dict], with_svg: bool = False):
    """Each model over its seeds (``results["seeds"]["models"]``, best first): the mean over
    seeds with its two-level 95% interval, and each seed's own mean as a grey dot, so the
    spread between training runs is seen beside the interval (a model of one seed: a hollow
    dot, no interval over seeds)."""
    from matplotlib.lines import Line2D

    fig = plot_figure(6.4, 0.45 * len(models) + 1.5)
    ax = fig.subplots()
    y = np.arange(len(models))[::-1]
    for m, yy in zip(models, y, strict=True):
        # a model of one seed has no interval over seeds: its mean alone, hollow
        if m.get("ci95") is None:
            ax.plot(m["mean"], yy, "o", color="C0", mfc="none")
        else:
            lo, hi = m["ci95"]
            err = [[m["mean"] - lo], [hi - m["mean"]]]
            ax.errorbar(m["mean"], yy, xerr=err, fmt="o", color="C0", capsize=3)
        seeds = m.get("seed_means") or []
        ax.plot(seeds, [yy - 0.18] * len(seeds), "o", ms=4, color="0.45", alpha=0.8)
    handles = [
        Line2D([], [], color="C0", marker="o", lw=1.5, label="mean over seeds, 95% CI"),
        Line2D([], [], color="0.45", marker="o", ms=4, ls="none", label="one seed's mean"),
    ]
    labels = [
        f"{plain(m['model'])} ({m.get('group') or '–'}) · {m['num_seeds']} seed"
        + ("" if m["num_seeds"] == 1 else "s")
        for m in models
    ]
    return _forest_finish(fig, ax, y, labels, handles, with_svg)


def k_curve_plot(curves: dict[str, dict], with_svg: bool = False):
    """The K-particle estimate against K (log axis), ±1 sd across disjoint blocks, per model."""
    fig = plot_figure(6.4, 4.0)
    ax = fig.subplots()
    for i, (name, c) in enumerate(curves.items()):
        k, m, s = np.array(c["num_particles"]), np.array(c["mean"]), np.array(c["std"])
        ax.plot(k, m, "o-", ms=3, color=f"C{i % 10}", label=plain(name))
        ax.fill_between(k, m - s, m + s, color=f"C{i % 10}", alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("number of importance samples K")
    ax.set_ylabel(r"mean $\log \hat{p}_K(x)$ on the subset (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return plot_bytes(fig, with_svg)


def khat_plot(khats: dict[str, np.ndarray], with_svg: bool = False):
    """Per-image PSIS k-hat of each latent model as a strip, with the 0.5 and 0.7 thresholds."""
    fig = plot_figure(6.4, 0.45 * len(khats) + 1.4)
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    # Okabe & Ito's colour-blind-safe colours, and a marker per class so colour is not needed
    classes = [
        (f"good (≤ {KHAT_GOOD})", lambda k: k <= KHAT_GOOD, OKABE_ITO["blue"], "o"),
        (
            f"usable ({KHAT_GOOD}–{KHAT_UNRELIABLE})",
            lambda k: (k > KHAT_GOOD) & (k <= KHAT_UNRELIABLE),
            OKABE_ITO["orange"],
            "^",
        ),
        (
            f"unreliable (> {KHAT_UNRELIABLE})",
            lambda k: k > KHAT_UNRELIABLE,
            OKABE_ITO["vermillion"],
            "X",
        ),
    ]
    for i, k in enumerate(khats.values()):
        k = np.asarray(k, dtype=float)
        k = k[np.isfinite(k)]
        y = len(khats) - 1 - i + rng.uniform(-0.2, 0.2, size=k.size)
        for label, where, colour, marker in classes:
            inside = where(k)
            ax.scatter(
                k[inside],
                y[inside],
                s=9,
                alpha=0.6,
                color=colour,
                marker=marker,
                linewidths=0,
                label=f"k-hat {label}" if i == 0 else None,
            )
    ax.axvline(KHAT_GOOD, color=OKABE_ITO["orange"], ls="--", lw=1)
    ax.axvline(KHAT_UNRELIABLE, color=OKABE_ITO["vermillion"], ls="--", lw=1)
    ax.set_yticks(np.arange(len(khats))[::-1], [plain(n) for n in khats])
    ax.set_xlabel("PSIS k-hat per test image (> 0.7: unreliable)")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=3, fontsize="x-small", frameon=False)
    return plot_bytes(fig, with_svg)


def activity_plot(activities: dict[str, np.ndarray], with_svg: bool = False):
    """Activity A_u = Cov_x(E_q[z_u|x]) of each latent unit, sorted, per model (log axis)."""
    fig = plot_figure(6.4, 3.6)
    ax = fig.subplots()
    for i, (name, a) in enumerate(activities.items()):
        a = np.sort(np.asarray(a, dtype=float))[::-1]
        ax.plot(
            np.arange(1, a.size + 1),
            np.maximum(a, 1e-8),
            "o-",
            ms=3,
            color=f"C{i % 10}",
            label=plain(name),
        )
    ax.axhline(ACTIVE_UNIT_THRESHOLD, color="k", ls="--", lw=1, label="active threshold 0.01")
    ax.set_yscale("log")
    ax.set_xlabel("latent unit (sorted by activity)")
    ax.set_ylabel(r"$\mathrm{Cov}_x(\mathbb{E}_q[z_u \mid x])$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return plot_bytes(fig, with_svg)


def training_curves_plot(
    metrics: dict[str, list[dict]], convergences: dict[str, dict], with_svg: bool = False
):
    """Training and validation loss per epoch (from each run's metrics.jsonl), one panel per
    run: the losses of different objectives (ELBO, IWAE bound, reconstruction) differ in kind.
    The best validation epoch (the weights the trainer keeps) is marked on every panel, and
    the title says when the run was still falling or over-fitting, from each run's convergence
    record (:func:`.convergence.convergence`, as the comparison computed it)."""
    from matplotlib.ticker import MaxNLocator

    names = [n for n, m in metrics.items() if m]
    cols = min(3, max(1, len(names)))
    nrows = max(1, math.ceil(len(names) / cols))
    fig = plot_figure(3.2 * cols, 2.4 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, cols, squeeze=False)).ravel()
    for ax, name in zip(axes, names, strict=False):
        rows = metrics[name]
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r.get("train_loss") for r in rows], label="train")
        valid = [(r["epoch"], r["valid_loss"]) for r in rows if r.get("valid_loss") is not None]
        if valid:
            ax.plot(*zip(*valid, strict=True), label="valid")
        conv = convergences[name]
        title = plain(name)
        if conv["best_epoch"] is not None:
            ax.axvline(conv["best_epoch"], color="k", ls=":", lw=1)
            ax.plot(
                [conv["best_epoch"]],
                [conv["best_valid_loss"]],
                "o",
                color="k",
                ms=4,
                label=f"best (epoch {conv['best_epoch']})",
            )
        if conv["status"] in ("still falling", "over-fitting"):
            title += f" — {conv['status']}"
        ax.set_title(title, fontsize="small", color="C3" if conv["overfitting"] else "k")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize="small")
        ax.set_ylabel("loss (nats per image)", fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    return plot_bytes(fig, with_svg)
