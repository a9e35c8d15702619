"""``pgm train``: train a model from a config (also the torchrun entry's options)."""

from __future__ import annotations

import json

from .. import options as o
from ..output import emit

DESCRIPTION = (
    "Train a model by SVI. The config holds the pgm.build keys (model, prior, guide, "
    "likelihood, latent_dim, ...), data keys (data, num_train, data_dir, download) and training "
    "keys (epochs, batch_size, lr, seed, device, elbo, num_particles, kl_warmup_epochs, "
    "early_stopping_patience for early stopping, logger = tensorboard for a TensorBoard log, "
    "keep_checkpoints). Keys that do not apply to the model are warned about and not recorded. "
    "The run folder gets config.json, metrics.jsonl, checkpoints/ (the last one by default, "
    "which resume needs) and model.safetensors (the best validation epoch's weights)."
)


def add_arguments(p) -> None:
    """The options ``pgm train`` and ``torchrun -m pgm_cli.torchrun`` share."""
    p.add_argument(
        "config",
        nargs="?",
        help="TOML config file, a run's config.json, or a shipped example by name (e.g. "
        "vae-digits; a wrong name lists them; paper recipes run with pgm reproduce); optional "
        "with --resume or --from",
    )
    p.add_argument(
        "--from",
        dest="from_run",
        metavar="RUN",
        default=None,
        help="train again from RUN's own config (less its session keys) into a new --out, e.g. "
        "with --set seed=1; plug-ins it records must be named with --plugin",
    )
    o.add_out_folder(p, "the run: created, or continued with --resume")
    o.add_overrides(p, "a config key")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint (epochs may grow; the session "
        "keys device, eval_particles, checkpoint_every, keep_checkpoints, logger, num_workers, "
        "flush_denormal, data_dir and download may change; any other difference is refused)",
    )
    o.add_plugin(p)
    o.add_data_dir(p)
    o.add_device(p, None, "cpu, cuda or auto: overrides the config's device (a session key)")
    o.add_no_progress(p)
    o.add_json(p, "print one JSON line (run, epochs, losses) instead of the summary")


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model from a TOML config", description=DESCRIPTION)
    add_arguments(p)
    p.add_argument(
        "--distributed", action="store_true", help="DistributedDataParallel training under torchrun"
    )
    p.set_defaults(func=run)


def train(args, distributed: bool) -> int:
    """Train the run ``args`` name and print its summary (rank 0, or a single process)."""
    from inference.run_config import train_command
    from pgm.configs import resolve_config_path  # a shipped config by name, or a file

    device = [] if args.device is None else [f"device = {json.dumps(args.device)}"]
    config = args.config
    if config is not None and args.from_run is None:  # with --from, the conflict is the error
        config = resolve_config_path(config)
    summary = train_command(
        config,
        args.out,
        resume=args.resume,
        sets=[*args.set, *device],
        plugins=args.plugin,
        data_dir=args.data_dir,
        progress=not args.no_progress,
        distributed=distributed,
        from_run=args.from_run,
    )
    if summary is not None:
        emit(args, summary, _summary)
    return 0


def _summary(row: dict) -> str:
    best, epochs = row["best_valid_loss"], row["epochs"]
    return (
        f"{row['run']}: {epochs} epoch{'' if epochs == 1 else 's'}, "
        f"train loss {row['train_loss']:.6g}"
        + ("" if best is None else f", best validation loss {best:.6g}")
    )


def run(args) -> int:
    return train(args, args.distributed)
