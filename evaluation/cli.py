"""The ``pgm`` command: train, evaluate, bdmc, sample, complete, compare, list, suite, reproduce."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from pgm.errors import PgmError

__all__ = ["build_parser", "main"]

EPILOG = """examples:
  pgm suite --out results                       # train and compare the standard set on digits
  pgm train configs/vae-digits.toml --out runs/vae --set prior=vamp
  pgm evaluate runs/vae --num-particles 1000
  pgm evaluate runs/vae --method ais --steps 1000 --chains 16
  pgm sample runs/vae -n 64
  pgm list                                      # every model, prior, guide, likelihood, dataset
"""


class UsageError(PgmError):
    """A command-line argument that cannot be used."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported on one line (exit status 2), like every other
    bad input; ``--help`` shows the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _png_out(out: str | None, default: Path) -> Path:
    """The PNG path of ``sample``/``complete``, checked before anything runs."""
    from inference.out_path import check_file_out  # g-files: never a run's own files

    if out is None:
        return default
    path = check_file_out(out)
    if path.is_dir():
        raise UsageError(f"--out: expected a PNG file path; found a folder: {path}")
    return path


def _write_png(save, out: Path) -> None:
    from inference.out_path import os_error_text

    try:
        save()
    except OSError as err:
        raise UsageError(
            f"--out: expected a writable file path; found {out} refused ({os_error_text(err)})"
        ) from None


def _check_image_memory(count: int, model, argument: str, shown: int, scale=None) -> None:
    """Samples, the network's activations and the grid (g-files: the grid counted too)."""
    from .images import check_image_memory

    check_image_memory(count, shown, tuple(model.event_shape), argument, scale)


# -- commands --------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from inference.run_config import train_command

    summary = train_command(
        args.config,
        args.out,
        resume=args.resume,
        sets=args.set,
        plugins=args.plugin,
        data_dir=args.data_dir,
        progress=not args.no_progress,
        distributed=args.distributed,
    )
    if summary is not None:
        print(json.dumps(summary))
    return 0


def cmd_evaluate(args) -> int:
    from inference.atomic_write import atomic_write_text

    from .evaluate_run import evaluate_run, summarise

    if args.method == "ais":
        from .evaluate_ais import evaluate_run_ais

        row = evaluate_run_ais(
            args.run,
            args.steps,
            args.chains,
            args.split,
            args.data_dir,
            args.num_images,
            device=args.device,
            seed=args.seed,
            progress=not args.no_progress,
            num_leapfrog=args.leapfrog,
        )
        atomic_write_text(
            Path(args.run) / f"evaluation-{args.split}-ais.json", json.dumps(row, indent=2) + "\n"
        )
        print(json.dumps(row) if args.json else _ais_summary(row))
        return 0
    model, cfg, data, est = evaluate_run(
        args.run,
        args.num_particles,
        args.split,
        args.data_dir,
        args.num_images,
        device=args.device,
        seed=args.seed,
        progress=not args.no_progress,
        return_log_weights=True,
    )
    if est is None:
        raise UsageError(
            f"run: expected a model with a density p(x); found {args.run} holding model "
            f"{cfg['model']!r}, which defines none, so there is no log-likelihood to evaluate "
            "(use `pgm compare` for its representation quality)"
        )
    row = summarise(Path(args.run).name, cfg, est, data.num_dims, model.has_latents)
    row["split"] = args.split
    row.update(_uncertainty(est, model.has_latents, args.seed))
    atomic_write_text(
        Path(args.run) / f"evaluation-{args.split}.json", json.dumps(row, indent=2) + "\n"
    )
    if args.json:
        print(json.dumps(row))
    else:
        print(_evaluation_summary(row))
    return 0


def _uncertainty(est, has_latents: bool, seed: int) -> dict:
    """Standard error and BCa 95% interval of the mean, and the share of images whose PSIS
    k-hat is above the one threshold the report uses (latent models)."""
    import numpy as np

    from .diagnostics import KHAT_UNRELIABLE, psis_khat
    from .statistics import summarise_mean

    s = summarise_mean(est.log_likelihood.double().numpy(), n_resamples=1999, seed=seed)
    out = {
        "standard_error_nats": s.standard_error,
        "ci95": list(s.ci95),
        "psis_khat_unreliable_fraction": None,
    }
    if has_latents and est.log_weights is not None and est.num_particles > 1:
        khat = psis_khat(est.log_weights)
        finite = khat[np.isfinite(khat)]
        out["psis_khat_unreliable_fraction"] = (
            float((finite > KHAT_UNRELIABLE).mean()) if finite.size else None
        )
    return out


def _ais_summary(row: dict) -> str:
    """``pgm evaluate --method ais``'s answer for a person, like the importance sampler's."""
    from .report import format_value as f

    lines = [
        f"{row['model']} on the {row['split']} split: {row['num_images']} images, AIS with "
        f"T = {row['num_steps']} steps, {row['num_chains']} chains",
        f"  log p(x)   {f(row['log_likelihood_nats'], '.2f')} nats per image "
        f"(SE over chains {f(row.get('chain_standard_error_nats'), '.3f')})",
        f"  bits/dim   {f(row['bits_per_dim'], '.4f')}",
    ]
    if row.get("accept_rate") is not None:
        lines.append(f"  HMC accept {f(row['accept_rate'], '.2f')}")
    return "\n".join(lines)


def _evaluation_summary(row: dict) -> str:
    """``pgm evaluate``'s answer for a person (``--json`` gives the machine line)."""
    from .diagnostics import KHAT_UNRELIABLE
    from .report import format_value as f

    lines = [
        f"{row['model']} on the {row['split']} split: {row['num_images']} images, "
        f"K = {row['num_particles']}",
        f"  log p(x)   {f(row['log_likelihood_nats'], '.2f')} nats per image "
        f"(SE {f(row['standard_error_nats'], '.3f')}, 95% CI {f(row['ci95'], '.2f')})",
        f"  bits/dim   {f(row['bits_per_dim'], '.4f')}",
    ]
    if row.get("elbo_nats") is not None:
        lines.append(
            f"  ELBO       {f(row['elbo_nats'], '.2f')} nats "
            f"(gap {f(row['log_likelihood_nats'] - row['elbo_nats'], '.2f')})"
        )
    share = row.get("psis_khat_unreliable_fraction")
    if share is not None:
        lines.append(
            f"  k-hat      {100 * share:.1f}% of images above {KHAT_UNRELIABLE} (unreliable there)"
        )
    elif row.get("elbo_nats") is None:
        lines.append("  exact      no latent variables: log p(x) is exact (K = 1)")
    else:
        lines.append(
            f"  k-hat      not estimable at K = {row['num_particles']} "
            "(too few weights for PSIS's tail fit)"
        )
    return "\n".join(lines)


def cmd_sample(args) -> int:
    import torch

    from inference import load_run

    from .images import save_grid

    out = _png_out(args.out, Path(args.run) / "samples.png")
    model, cfg = load_run(args.run, device=args.device)
    _check_image_memory(args.n, model, "-n", args.n, args.scale)
    torch.manual_seed(args.seed)
    x = model.sample(args.n, cached=not args.naive)
    _write_png(lambda: save_grid(x, model.num_levels, out, scale=args.scale), out)
    print(json.dumps({"samples": str(out), "n": args.n, "shape": list(x.shape)}))
    return 0


def cmd_complete(args) -> int:
    import numpy as np
    import torch

    from inference import load_run
    from pgm.completion import MASKS, observed_mask
    from pgm.data import config_dataset
    from pgm.data.npz import load_image_array

    if args.observed not in MASKS:
        raise UsageError(f"--observed: expected one of {', '.join(MASKS)}; found {args.observed!r}")
    out = _png_out(args.out, Path(args.run) / "completions.png")
    model, cfg = load_run(args.run, device=args.device)
    source = args.input
    if source in ("train", "valid", "test"):
        x = config_dataset(cfg, source, args.data_dir).float_images()[: args.n]
    else:
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
        x = x[: args.n]
    model.check_data(x, "--input")
    shown = int(x.shape[0]) * (args.samples + 2)
    drawn = int(x.shape[0]) * (args.candidates + args.samples) * 2  # g-files: SIR's candidates
    flag = "--samples" if args.samples >= args.candidates else "--candidates"
    _check_image_memory(drawn, model, flag, shown)
    mask = observed_mask(args.observed, model.event_shape).to(model.device)
    torch.manual_seed(args.seed)
    from .completion_command import complete_and_draw  # g-files: SIR for every mask (issue 23)

    summary = {}
    _write_png(
        lambda: summary.update(complete_and_draw(model, x.to(model.device), mask, args, out)), out
    )
    print(json.dumps(summary))
    return 0


def cmd_list(args) -> int:
    import pgm
    from inference.elbo import ELBOS

    parts = pgm.list_parts()
    parts["elbos"] = dict(ELBOS)
    if args.json:
        print(json.dumps(parts, indent=2))
        return 0
    for kind, entries in parts.items():
        print(f"{kind}:")
        width = max(map(len, entries), default=0)
        for name, doc in entries.items():
            print(f"  {name:<{width}}  {doc}")
    return 0


def cmd_suite(args) -> int:
    import torch

    from inference.out_path import check_folder_out  # g-files

    from .suite import run_suite

    check_folder_out(args.out, "--out", holds_runs=True)  # g-files: not inside a run

    torch.set_num_threads(args.threads)

    results = run_suite(
        args.out,
        data=args.data,
        data_dir=args.data_dir,
        num_particles=args.num_particles,
        models=args.models,
        epochs_scale=args.epochs_scale,
        device=args.device,
        progress=not args.no_progress,
        extra_runs=args.add,
        budget=args.budget,
    )
    _print_table(results)
    print(f"results: {Path(args.out) / 'results.json'}")
    print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def cmd_compare(args) -> int:
    from inference.out_path import check_folder_out, check_name  # g-files

    from .compare import compare_runs

    runs, names = list(args.runs), [None] * len(args.runs)
    for pair in args.label:
        name, sep, run = pair.partition("=")
        if not sep or not name.strip() or not run.strip():
            raise UsageError(
                f"--label: expected NAME=RUN (a name for a run folder); found {pair!r}"
            )
        runs.append(run.strip())
        names.append(check_name(name.strip(), "--label", "a label"))  # g-files: safe names
    if not runs:
        raise UsageError(
            "runs: expected at least one run folder (positional, or --label NAME=RUN); found none"
        )
    check_folder_out(args.out, "--out", runs)  # g-files: not a run, its checkpoints, their folder
    results = compare_runs(
        runs,
        args.out,
        num_particles=args.num_particles,
        split=args.split,
        names=names,
        data_dir=args.data_dir,
        num_images=args.num_images,
        seed=args.seed,
        progress=not args.no_progress,
        alpha=args.alpha,
        curve_images=args.curve_images,
        curve_max_particles=args.curve_max_particles,
        ais=None
        if args.method == "is"
        else {
            "num_steps": args.steps,
            "num_chains": args.chains,
            "bdmc_images": args.bdmc_images,
            "num_leapfrog": args.leapfrog,
        },
    )
    _print_table(results)
    print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def cmd_bdmc(args) -> int:
    from inference.atomic_write import atomic_write_text

    from .evaluate_ais import bdmc_run

    row = bdmc_run(
        args.run,
        args.num_images,
        args.steps,
        args.chains,
        device=args.device,
        seed=args.seed,
        progress=not args.no_progress,
        num_leapfrog=args.leapfrog,
    )
    atomic_write_text(Path(args.run) / "bdmc.json", json.dumps(row, indent=2) + "\n")
    print(json.dumps(row))
    return 0


def _print_table(results: dict) -> None:
    """The ranking with intervals and tie groups, the significant comparisons, the warnings."""
    rows = results["models"] if isinstance(results, dict) else results
    rows = sorted(rows, key=lambda r: r.get("rank", 0) or -r["log_likelihood_nats"])
    print(
        f"{'rank':<6}{'group':<7}{'model':<22}{'log p(x) nats':>14}{'95% CI':>20}"
        f"{'bits/dim':>10}{'ELBO nats':>11}{'k-hat':>7}"
    )
    for r in rows:
        ci = r.get("ci95")
        ci_text = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        elbo = "" if r.get("elbo_nats") is None else f"{r['elbo_nats']:.2f}"
        khat = "" if r.get("psis_khat") is None else f"{r['psis_khat']:.2f}"
        print(
            f"{r.get('rank', ''):<6}{r.get('group', ''):<7}{r['model']:<22}"
            f"{r['log_likelihood_nats']:>14.2f}"
            f"{ci_text:>20}{r['bits_per_dim']:>10.4f}{elbo:>11}{khat:>7}"
        )
    if not isinstance(results, dict):
        return
    comparisons = results.get("comparisons", [])
    if comparisons:
        alpha = results.get("method", {}).get("alpha", 0.05)
        different = [c for c in comparisons if c["significant"]]
        print(
            f"{len(different)} of {len(comparisons)} pairwise differences significant "
            f"(Holm, alpha = {alpha}):"
        )
        for c in different:
            print(
                f"  {c['a']} > {c['b']}: {c['mean_difference_nats']:.2f} nats "
                f"[{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}], p_Holm = {c['p_value_adjusted']:.3g}"
            )
    for w in results.get("warnings", []):
        print(f"warning: {w['message'] if isinstance(w, dict) else w}")


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from . import cli_options as o

    parser = _Parser(
        prog="pgm",
        description="Explicit-density generative models for images (VAEs, PixelCNN, PixelRNN) as "
        "Pyro programs: train, evaluate with one shared importance-sampled log-likelihood "
        "estimator (nats and bits/dim), sample, and compare.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "train",
        help="train a model from a TOML config",
        description="Train a model by SVI. The config holds the pgm.build keys (model, prior, "
        "guide, likelihood, latent_dim, ...), data keys (data, num_train, data_dir, download) "
        "and training keys (epochs, batch_size, lr, seed, device, elbo, num_particles, "
        "kl_warmup_epochs, early_stopping_patience for early stopping, logger = tensorboard for "
        "a TensorBoard log, keep_checkpoints). Keys that do not apply to the model are warned "
        "about and not recorded. The run folder gets config.json, metrics.jsonl, checkpoints/ "
        "(the last one by default, which resume needs) and model.safetensors (the best "
        "validation epoch's weights).",
    )
    p.add_argument("config", nargs="?", help="TOML config file (optional with --resume)")
    o.add_out_folder(p, "the run: created, or continued with --resume")
    o.add_overrides(p, "a config key")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint (epochs may grow; the session "
        "keys device, eval_particles, checkpoint_every, keep_checkpoints, logger, num_workers, "
        "data_dir and download may change; any other difference is refused)",
    )
    p.add_argument(
        "--distributed", action="store_true", help="DistributedDataParallel training under torchrun"
    )
    o.add_common(p, device=False)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="importance-sampled log-likelihood of a run on a split",
        description="Estimate log p(x) per image with K importance samples from the run's guide "
        "(exact for models without latents), report mean nats, bits/dim and the ELBO; writes "
        "RUN/evaluation-SPLIT.json.",
    )
    o.add_run(p)
    o.add_num_particles(p, None, "the run's eval_particles, 1000 unless its config set another")
    o.add_split(p)
    o.add_num_images(p)
    o.add_seed(p, "the importance samples")
    o.add_method(
        p,
        "is: importance sampling (default); ais: annealed importance sampling with HMC, writes "
        "RUN/evaluation-SPLIT-ais.json",
    )
    o.add_ais_options(p)
    o.add_json(
        p,
        "print one JSON line (the contents of RUN/evaluation-SPLIT.json) instead of the summary",
    )
    o.add_common(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "bdmc",
        help="bidirectional Monte Carlo bounds on data simulated from a run's model",
        description="Simulate images and latents from the model, then sandwich log p(x) between "
        "forward AIS (lower bound) and reverse AIS from the exact latent (upper bound); the gap "
        "certifies the AIS schedule. Writes RUN/bdmc.json.",
    )
    o.add_run(p, "a latent-variable model")
    o.add_num_images(p, 32, "simulated images (default 32)")
    o.add_seed(p, "the simulated images and the AIS chains")
    o.add_ais_options(p)
    o.add_common(p, data_dir=False)
    p.set_defaults(func=cmd_bdmc)

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
    o.add_common(p, data_dir=False)
    p.set_defaults(func=cmd_sample)

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
    p.add_argument(  # g-files: issue 23
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
    o.add_plugin(p)
    o.add_data_dir(p)
    o.add_device(p)
    o.add_no_progress(p, " (accepted like every command's; completion draws none)")
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser(
        "compare",
        help="evaluate several runs on the same images and write a report",
        description="Evaluate every run on the SAME test images with the shared estimator, "
        "compare them pairwise, write results.json, report.md, report.html and figures into "
        "--out.",
    )
    p.add_argument("runs", nargs="*", help="run folders (named after the folder; see --label)")
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=RUN",
        help="a run folder with the name the report gives it (repeatable; e.g. --label "
        "baseline=runs/vae)",
    )
    o.add_out_folder(p, "the report: results.json, idata.nc, report.md, report.html, figures/")
    o.add_num_particles(p, o.DEFAULT_NUM_PARTICLES, ", as pgm suite")
    o.add_split(p, "the data split every model is evaluated on")
    o.add_num_images(p)
    o.add_seed(p, "the importance samples and resamples")
    p.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="family-wise error rate of the pairwise tests, Holm-adjusted (default 0.05)",
    )
    p.add_argument(
        "--curve-images",
        type=o.count("--curve-images"),
        default=16,
        help="test images for the estimate-against-K curves (default 16; 0: none)",
    )
    p.add_argument(
        "--curve-max-particles",
        type=o.positive_int("--curve-max-particles"),
        default=5000,
        help="largest K of those curves (default 5000)",
    )
    o.add_method(p, "ais: also AIS and BDMC for every latent model, beside importance sampling")
    o.add_ais_options(p)
    p.add_argument(
        "--bdmc-images",
        type=o.count("--bdmc-images"),
        default=16,
        help="AIS: simulated images for the BDMC gap (default 16; 0: none)",
    )
    o.add_common(p, device=False)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "list",
        help="list every registered model, prior, guide, likelihood, dataset",
        description="List every registered name a config may use, with its description: "
        "models, priors, guides, likelihoods, datasets, encoder/decoder networks and ELBOs "
        "(plug-ins included).",
    )
    o.add_json(p, "machine-readable output: one JSON object, kind -> name -> description")
    o.add_common(p, data_dir=False, device=False, progress=False)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "suite",
        help="train and compare the standard set of models (the main job)",
        description="Train the suite's models (VAEs with several priors/guides/ELBOs, the "
        "autoencoder, PixelCNNs, PixelRNNs, PixelVAE) on one dataset, evaluate them on its test "
        "split with the shared estimator, and write results.json, sample grids and the report "
        "into --out. Interrupted? Run the same command again: finished models are kept and an "
        "unfinished one resumes.",
    )
    o.add_out_folder(p, "the suite's runs and the report")
    p.add_argument(
        "--data", default="digits", help="dataset (default digits: embedded, no download)"
    )
    o.add_num_particles(p, o.DEFAULT_NUM_PARTICLES, ", as pgm compare")
    from .suite import suite_models

    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"only these suite models, among: {', '.join(suite_models())} (default: all)",
    )
    p.add_argument(
        "--add",
        nargs="+",
        default=[],
        metavar="RUN",
        help="already-trained runs (a plug-in model, say) compared alongside the suite's models",
    )
    p.add_argument(
        "--epochs-scale",
        type=float,
        default=1.0,
        help="multiply every model's epochs (e.g. 0.1 for a smoke run)",
    )
    p.add_argument(
        "--budget",
        choices=["fixed", "converge"],
        default="fixed",
        help="fixed: each model's epochs from the suite table (minutes; not converged, the "
        "report says so); converge: early stopping, until 10 epochs bring no better validation "
        "loss (at most 500), the best epoch kept",
    )
    o.add_threads(
        p,
        1,
        "1: the suite's small networks run faster on one thread than on two that wait for each "
        "other",
    )
    o.add_common(p)
    p.set_defaults(func=cmd_suite)

    from .reproduce import add_parser as add_reproduce_parser

    add_reproduce_parser(sub)
    return parser


def _one_line(err: BaseException) -> str:
    """The error's message on one line. Pyro appends a table of trace shapes to errors raised
    inside a model; the sentence before it says what went wrong, the table is left out."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    lines = []
    for line in str(text).splitlines():
        if line.strip().startswith("Trace Shapes:"):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) or type(err).__name__


_INTERRUPTED = {
    "train": "checkpoints written so far are intact (pgm train --out RUN --resume continues)",
    "suite": "finished runs are kept and an unfinished one resumes: run the same command again",
    "compare": "the report folder holds the previous report (or none); run the command again",
    "evaluate": "no evaluation file was written",
}


def main(argv: list[str] | None = None) -> int:
    """Run the ``pgm`` command; returns the exit status.

    Bad input (a config, an argument, a file, data, a model/guide pair breaking the contract:
    the project's own :class:`pgm.errors.PgmError`, and a path that does not exist or cannot be
    written) is answered by one line naming the argument, what was expected and what was
    found, exit status 2, no traceback; a run that fails while training (a non-finite loss) or
    another operating-system failure gets one line and status 1. Any other exception is a bug
    and surfaces as one, with its traceback. ``PGM_DEBUG=1`` shows the traceback always.
    """
    try:  # Ctrl-C while the start-up imports run: one line, no traceback
        parser = build_parser()
        if not (sys.argv[1:] if argv is None else argv):
            parser.print_help()  # `pgm` alone: what it can do, not a usage error
            return 0
        try:
            args = parser.parse_args(argv)
        except SystemExit as stop:  # argparse: --help, or a usage error already printed
            return stop.code if isinstance(stop.code, int) else 2
        from inference.trainer import NonFiniteLossError
        from pgm.plugins import PluginWarning, use_plugins
    except KeyboardInterrupt:
        print("pgm: interrupted while starting; nothing was run or written", file=sys.stderr)
        return 130

    bad_input = (
        PgmError,
        FileNotFoundError,
        FileExistsError,
        PermissionError,
        NotADirectoryError,
        IsADirectoryError,
    )
    shown = warnings.formatwarning  # a plug-in's warning is one line, like every other message
    warnings.formatwarning = lambda m, c, *a, **k: (
        f"pgm {args.command}: warning: {m}\n"
        if issubclass(c, PluginWarning)
        else shown(m, c, *a, **k)
    )
    try:
        use_plugins(getattr(args, "plugin", None), "--plugin")
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return code
    except BrokenPipeError:
        # the reader left (`pgm list --json | head`): not an error; stdout is pointed at devnull
        # so that Python's flush at exit does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            f"pgm {args.command}: interrupted; "
            f"{_INTERRUPTED.get(args.command, 'nothing was written')}",
            file=sys.stderr,
        )
        return 130
    except (*bad_input, NonFiniteLossError, OSError, MemoryError) as err:
        if os.environ.get("PGM_DEBUG"):
            raise
        print(f"pgm {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2 if isinstance(err, bad_input) else 1
    finally:
        warnings.formatwarning = shown


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
