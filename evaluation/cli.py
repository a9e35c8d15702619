"""The ``pgm`` command: train, evaluate, sample, complete, compare, list, suite."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]

EPILOG = """examples:
  pgm suite --out results                       # train and compare the standard set on digits
  pgm train configs/vae-digits.toml --out runs/vae --set prior=vamp
  pgm evaluate runs/vae --num-particles 1000
  pgm sample runs/vae -n 64
  pgm list                                      # every model, prior, guide, likelihood, dataset
"""


#: importance samples per test image in `pgm suite` and `pgm compare` (one default for both)
DEFAULT_NUM_PARTICLES = 500


class UsageError(ValueError):
    """A command-line argument that cannot be used."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported on one line (exit status 2), like every other
    bad input; ``--help`` shows the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(name: str):
    # argparse prefixes the message with "argument NAME:", so the name is not repeated here
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer; found {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected a positive integer; found {value}")
        return value

    parse.__name__ = name
    return parse


# -- commands --------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from inference import load_config, parse_overrides, train

    overrides = parse_overrides(args.set)
    if args.config is not None:
        config = load_config(args.config)
    elif args.resume:
        saved = Path(args.out) / "config.json"
        if not saved.is_file():
            raise UsageError(
                f"config: expected a TOML file, or --resume with a run folder holding config.json; "
                f"found neither ({saved} does not exist)"
            )
        try:
            config = json.loads(saved.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UsageError(f"--resume: expected JSON in {saved}; found a corrupted file ({err})") from None
        if not isinstance(config, dict):
            raise UsageError(f"--resume: expected a JSON object in {saved}; found {type(config).__name__}")
    else:
        raise UsageError("config: expected a TOML config file (it may be left out only with --resume); found none")
    config.update(overrides)
    if args.distributed:
        from inference.distributed import train_distributed

        result = train_distributed(config, args.out, resume=args.resume, data_dir=args.data_dir, progress=not args.no_progress)
    else:
        result = train(config, args.out, resume=args.resume, data_dir=args.data_dir, progress=not args.no_progress)
    if result is not None and result.metrics:
        last = result.metrics[-1]
        print(json.dumps({"run": str(args.out), "epochs": last["epoch"], "train_loss": last["train_loss"], "best_valid_loss": result.best_valid_loss}))
    return 0


def cmd_evaluate(args) -> int:
    from inference.checkpoint import atomic_write_text

    from .evaluate_run import evaluate_run, summarise

    model, cfg, data, est = evaluate_run(
        args.run, args.num_particles, args.split, args.data_dir, args.num_images,
        device=args.device, seed=args.seed, progress=not args.no_progress, return_log_weights=True,
    )
    if est is None:
        raise UsageError(
            f"run: {args.run} holds a {cfg['model']}, which defines no density p(x); there is no "
            "log-likelihood to evaluate (use `pgm compare` for its representation quality)"
        )
    row = summarise(Path(args.run).name, cfg, est, data.num_dims, model.has_latents)
    row["split"] = args.split
    row.update(_uncertainty(est, model.has_latents, args.seed))
    atomic_write_text(Path(args.run) / f"evaluation-{args.split}.json", json.dumps(row, indent=2) + "\n")
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
    out = {"standard_error_nats": s.standard_error, "ci95": list(s.ci95), "psis_khat_unreliable_fraction": None}
    if has_latents and est.log_weights is not None and est.num_particles > 1:
        khat = psis_khat(est.log_weights)
        finite = khat[np.isfinite(khat)]
        out["psis_khat_unreliable_fraction"] = float((finite > KHAT_UNRELIABLE).mean()) if finite.size else None
    return out


def _evaluation_summary(row: dict) -> str:
    """``pgm evaluate``'s answer for a person (``--json`` gives the machine line)."""
    from .diagnostics import KHAT_UNRELIABLE
    from .report import format_value as f

    lines = [
        f"{row['model']} on the {row['split']} split: {row['num_images']} images, K = {row['num_particles']}",
        f"  log p(x)   {f(row['log_likelihood_nats'], '.2f')} nats per image (SE {f(row['standard_error_nats'], '.3f')}, 95% CI {f(row['ci95'], '.2f')})",
        f"  bits/dim   {f(row['bits_per_dim'], '.4f')}",
    ]
    if row.get("elbo_nats") is not None:
        lines.append(f"  ELBO       {f(row['elbo_nats'], '.2f')} nats (gap {f(row['log_likelihood_nats'] - row['elbo_nats'], '.2f')})")
    share = row.get("psis_khat_unreliable_fraction")
    if share is not None:
        lines.append(f"  k-hat      {100 * share:.1f}% of images above {KHAT_UNRELIABLE} (unreliable there)")
    elif row.get("elbo_nats") is None:
        lines.append("  exact      no latent variables: log p(x) is exact (K = 1)")
    else:
        lines.append(f"  k-hat      not estimable at K = {row['num_particles']} (too few weights for PSIS's tail fit)")
    return "\n".join(lines)


def cmd_sample(args) -> int:
    import torch

    from inference import load_run

    from .images import save_grid

    model, cfg = load_run(args.run, device=args.device)
    torch.manual_seed(args.seed)
    x = model.sample(args.n, cached=not args.naive)
    out = Path(args.out) if args.out else Path(args.run) / "samples.png"
    save_grid(x, model.num_levels, out, scale=args.scale)
    print(json.dumps({"samples": str(out), "n": args.n, "shape": list(x.shape)}))
    return 0


def cmd_complete(args) -> int:
    import numpy as np
    import torch

    from inference import load_run
    from inference.trainer import config_dataset
    from pgm.completion import complete, observed_mask

    from .images import save_grid

    model, cfg = load_run(args.run, device=args.device)
    source = args.input
    if source in ("train", "valid", "test"):
        x = config_dataset(cfg, source, args.data_dir).float_images()[: args.n]
    else:
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"--input: expected a split name (train, valid, test) or an .npy/.npz file; found {source!r}")
        try:
            loaded = np.load(path, allow_pickle=False)
            arr = loaded[loaded.files[0]] if hasattr(loaded, "files") else loaded
        except (ValueError, OSError) as err:
            raise UsageError(f"--input: {path} is not a readable .npy/.npz file ({err})") from None
        x = torch.as_tensor(np.asarray(arr)).float()
        if x.dim() == len(model.event_shape):
            x = x.unsqueeze(0)
        x = x[: args.n]
    model.check_data(x, "--input")
    mask = observed_mask(args.observed, model.event_shape).to(model.device)
    torch.manual_seed(args.seed)
    x = x.to(model.device)
    # each image repeated --samples times: every copy gets its own completion
    repeated = x.repeat_interleave(args.samples, 0)
    completed = complete(model, repeated, mask).reshape(x.shape[0], args.samples, *model.event_shape)
    out = Path(args.out) if args.out else Path(args.run) / "completions.png"
    # one row per image: what was observed, the completions, the original (as the report shows it)
    shown = torch.cat([(x * mask).unsqueeze(1), completed.to(x.dtype), x.unsqueeze(1)], 1)
    save_grid(shown.reshape(-1, *model.event_shape), model.num_levels, out, nrow=shown.shape[1])
    print(json.dumps({"completions": str(out), "n": int(x.shape[0]), "samples_per_image": args.samples, "columns": ["observed", *["completion"] * args.samples, "original"]}))
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

    from .suite import run_suite

    torch.set_num_threads(args.threads)

    results = run_suite(
        args.out, data=args.data, data_dir=args.data_dir, num_particles=args.num_particles,
        models=args.models, epochs_scale=args.epochs_scale, device=args.device,
        progress=not args.no_progress, budget=args.budget,
    )
    _print_table(results)
    print(f"results: {Path(args.out) / 'results.json'}")
    print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def cmd_compare(args) -> int:
    from .compare import compare_runs

    runs, names = list(args.runs), [None] * len(args.runs)
    for pair in args.label:
        name, sep, run = pair.partition("=")
        if not sep or not name.strip() or not run.strip():
            raise UsageError(f"--label: expected NAME=RUN (a name for a run folder); found {pair!r}")
        runs.append(run.strip())
        names.append(name.strip())
    if not runs:
        raise UsageError("runs: expected at least one run folder (positional, or --label NAME=RUN); found none")
    results = compare_runs(
        runs, args.out, num_particles=args.num_particles, split=args.split, names=names,
        data_dir=args.data_dir, num_images=args.num_images, seed=args.seed,
        progress=not args.no_progress, alpha=args.alpha, curve_images=args.curve_images,
        curve_max_particles=args.curve_max_particles,
    )
    _print_table(results)
    print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def _print_table(results: dict) -> None:
    """The ranking with intervals and tie groups, the significant comparisons, the warnings."""
    rows = results["models"] if isinstance(results, dict) else results
    rows = sorted(rows, key=lambda r: r.get("rank", 0) or -r["log_likelihood_nats"])
    print(f"{'rank':<6}{'group':<7}{'model':<22}{'log p(x) nats':>14}{'95% CI':>20}{'bits/dim':>10}{'ELBO nats':>11}{'k-hat':>7}")
    for r in rows:
        ci = r.get("ci95")
        ci_text = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        elbo = "" if r.get("elbo_nats") is None else f"{r['elbo_nats']:.2f}"
        khat = "" if r.get("psis_khat") is None else f"{r['psis_khat']:.2f}"
        print(
            f"{r.get('rank', ''):<6}{r.get('group', ''):<7}{r['model']:<22}{r['log_likelihood_nats']:>14.2f}"
            f"{ci_text:>20}{r['bits_per_dim']:>10.4f}{elbo:>11}{khat:>7}"
        )
    if not isinstance(results, dict):
        return
    comparisons = results.get("comparisons", [])
    if comparisons:
        alpha = results.get("method", {}).get("alpha", 0.05)
        different = [c for c in comparisons if c["significant"]]
        print(f"{len(different)} of {len(comparisons)} pairwise differences significant (Holm, alpha = {alpha}):")
        for c in different:
            print(
                f"  {c['a']} > {c['b']}: {c['mean_difference_nats']:.2f} nats "
                f"[{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}], p_Holm = {c['p_value_adjusted']:.3g}"
            )
    for w in results.get("warnings", []):
        print(f"warning: {w['message'] if isinstance(w, dict) else w}")


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pgm",
        description="Explicit-density generative models for images (VAEs, PixelCNN, PixelRNN) as "
        "Pyro programs: train, evaluate with one shared importance-sampled log-likelihood "
        "estimator (nats and bits/dim), sample, and compare.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(p, data_dir=True, device=True, progress=True):
        if data_dir:
            p.add_argument("--data-dir", default=None, help="folder with .npz / torchvision files (default: $PGM_DATA_DIR or ~/.pgm/data)")
        if device:
            p.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"], help="where to run (default: auto, the GPU when torch sees one)")
        if progress:
            p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = sub.add_parser("train", help="train a model from a TOML config", description="Train a model by SVI. The config holds the pgm.build keys (model, prior, guide, likelihood, latent_dim, ...) and training keys (data, epochs, batch_size, lr, seed, device, elbo, num_particles, kl_warmup_epochs, patience for early stopping, logger = tensorboard for a TensorBoard log, keep_checkpoints). Keys that do not apply to the model are warned about and not recorded. The run folder gets config.json, metrics.jsonl, checkpoints/ (the last one by default, which resume needs) and model.safetensors (the best validation epoch's weights).")
    p.add_argument("config", nargs="?", help="TOML config file (optional with --resume)")
    p.add_argument("--out", required=True, help="run folder to create (or continue with --resume)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (TOML value), repeatable")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--distributed", action="store_true", help="DistributedDataParallel training under torchrun")
    common(p, device=False)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="importance-sampled log-likelihood of a run on a split", description="Estimate log p(x) per image with K importance samples from the run's guide (exact for models without latents), report mean nats, bits/dim and the ELBO; writes RUN/evaluation-SPLIT.json.")
    p.add_argument("run", help="run folder written by `pgm train`")
    p.add_argument("--num-particles", "-k", type=_positive_int("--num-particles"), default=1000, help="importance samples K per image (default 1000)")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"], help="data split (default test)")
    p.add_argument("--num-images", type=_positive_int("--num-images"), default=None, help="evaluate only the first N images")
    p.add_argument("--seed", type=int, default=0, help="seed of the importance samples")
    p.add_argument("--json", action="store_true", help="print one JSON line (the contents of RUN/evaluation-SPLIT.json) instead of the summary")
    common(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sample", help="draw samples from a run's model into a PNG grid", description="Ancestral samples x ~ p(x) (z ~ p(z) first for latent models); autoregressive models use the cached fast sampler unless --naive.")
    p.add_argument("run", help="run folder written by `pgm train`")
    p.add_argument("-n", type=_positive_int("-n"), default=64, help="number of samples (default 64)")
    p.add_argument("--out", default=None, help="PNG path (default RUN/samples.png)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--naive", action="store_true", help="autoregressive models: recompute the whole network per pixel")
    p.add_argument("--scale", type=_positive_int("--scale"), default=None, help="draw each pixel as SCALE×SCALE pixels (nearest neighbour; default: each image at least 56 pixels tall)")
    common(p, data_dir=False)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("complete", help="complete partly observed images with an autoregressive run", description="Sample the unobserved pixels given the observed ones (the image-completion figure of the PixelRNN paper).")
    p.add_argument("run", help="run folder of an autoregressive model")
    p.add_argument("--input", default="test", help="a split name (train/valid/test) or an .npy/.npz file of images (N, C, H, W)")
    p.add_argument("--observed", default="top-half", help="which pixels are observed: top-half, bottom-half, left-half, right-half, center (default top-half; exact for top-half, where every observed pixel precedes every missing one in raster order)")
    p.add_argument("-n", type=_positive_int("-n"), default=8, help="number of images (default 8)")
    p.add_argument("--samples", type=_positive_int("--samples"), default=4, help="completions per image (default 4)")
    p.add_argument("--out", default=None, help="PNG path (default RUN/completions.png)")
    p.add_argument("--seed", type=int, default=0)
    common(p)  # --no-progress: accepted like every command's (completion draws no bar)
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("compare", help="evaluate several runs on the same images and write a report", description="Evaluate every run on the SAME test images with the shared estimator, compare them pairwise, write results.json, report.md, report.html and figures into --out.")
    p.add_argument("runs", nargs="*", help="run folders (named after the folder; see --label)")
    p.add_argument("--label", action="append", default=[], metavar="NAME=RUN", help="a run folder with the name the report gives it (repeatable; e.g. --label baseline=runs/vae)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--num-particles", "-k", type=_positive_int("--num-particles"), default=DEFAULT_NUM_PARTICLES, help=f"importance samples K per test image for latent models (default {DEFAULT_NUM_PARTICLES}, as pgm suite; exact K = 1 for models without latents)")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"], help="the data split every model is evaluated on (default test)")
    p.add_argument("--num-images", type=_positive_int("--num-images"), default=None, help="evaluate on the first N images of the split only (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the importance samples and resamples")
    p.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate of the pairwise tests, Holm-adjusted (default 0.05)")
    p.add_argument("--curve-images", type=int, default=16, help="test images for the estimate-against-K curves (default 16; 0: none)")
    p.add_argument("--curve-max-particles", type=_positive_int("--curve-max-particles"), default=5000, help="largest K of those curves (default 5000)")
    common(p, device=False)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("list", help="list every registered model, prior, guide, likelihood, dataset")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("suite", help="train and compare the standard set of models (the main job)", description="Train the suite's models (VAEs with several priors/guides/ELBOs, the autoencoder, PixelCNNs, PixelRNNs, PixelVAE) on one dataset, evaluate them on its test split with the shared estimator, and write results.json, sample grids and the report into --out. Interrupted? Run the same command again: finished models are kept and an unfinished one resumes.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--data", default="digits", help="dataset (default digits: embedded, no download)")
    p.add_argument("--num-particles", "-k", type=_positive_int("--num-particles"), default=DEFAULT_NUM_PARTICLES, help=f"importance samples per test image (default {DEFAULT_NUM_PARTICLES})")
    p.add_argument("--models", nargs="+", default=None, help="only these suite models")
    p.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every model's epochs (e.g. 0.1 for a smoke run)")
    p.add_argument("--budget", choices=["fixed", "converge"], default="fixed", help="fixed: each model's epochs from the suite table (minutes; not converged, the report says so); converge: early stopping, until 10 epochs bring no better validation loss (at most 500), the best epoch kept")
    p.add_argument("--threads", type=_positive_int("--threads"), default=1, help="CPU threads for torch (default 1: the suite's small networks run faster on one thread than on two that wait for each other)")
    common(p)
    p.set_defaults(func=cmd_suite)
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


def main(argv: list[str] | None = None) -> int:
    """Run the ``pgm`` command; returns the exit status.

    Bad input (a config, an argument, a file, data) is answered by one line naming the
    argument, what was expected and what was found, exit status 2, no traceback; a run that
    fails while training (a non-finite loss) or an operating-system failure gets one line and
    status 1. ``PGM_DEBUG=1`` shows the traceback instead.
    """
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help()  # `pgm` alone: what it can do, not a usage error
        return 0
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse: --help, or a usage error already printed
        return stop.code if isinstance(stop.code, int) else 2
    from inference.checkpoint import CheckpointError
    from inference.config import ConfigError
    from inference.trainer import NonFiniteLossError

    bad_input = (
        ConfigError, CheckpointError, UsageError, ValueError, TypeError, KeyError,
        NotImplementedError, FileNotFoundError, FileExistsError, PermissionError,
        NotADirectoryError, IsADirectoryError,
    )
    try:
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
        print(f"pgm {args.command}: interrupted; checkpoints written so far are intact (pgm train ... --resume continues)", file=sys.stderr)
        return 130
    except (*bad_input, NonFiniteLossError, OSError) as err:
        if os.environ.get("PGM_DEBUG"):
            raise
        print(f"pgm {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2 if isinstance(err, bad_input) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
