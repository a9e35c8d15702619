"""``pgm evaluate``: the log-likelihood of a run on a split (importance sampling or AIS)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import options as o
from ..output import emit


def add_parser(sub) -> None:
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
    p.set_defaults(func=run)


def run(args) -> int:
    from inference.atomic_write import atomic_write_text

    if args.method == "ais":
        row, name = _ais(args), f"evaluation-{args.split}-ais.json"
        summary = _ais_summary
    else:
        row, name = _importance_sampling(args), f"evaluation-{args.split}.json"
        summary = _evaluation_summary
    atomic_write_text(Path(args.run) / name, json.dumps(row, indent=2) + "\n")
    emit(args, row, summary)
    return 0


def _ais(args) -> dict:
    from evaluation.evaluate_ais import evaluate_run_ais

    return evaluate_run_ais(
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


def _importance_sampling(args) -> dict:
    from evaluation.evaluate_run import evaluate_run, summarise

    from ..errors import UsageError

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
    return row


def _uncertainty(est, has_latents: bool, seed: int) -> dict:
    """Standard error and BCa 95% interval of the mean, and the share of images whose PSIS
    k-hat is above the one threshold the report uses (latent models)."""
    import numpy as np

    from evaluation.diagnostics import KHAT_UNRELIABLE, psis_khat
    from evaluation.statistics import summarise_mean

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
    from evaluation.report import format_value as f

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
    from evaluation.diagnostics import KHAT_UNRELIABLE
    from evaluation.report import format_value as f

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
