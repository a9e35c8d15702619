"""``pgm list``: every registered name a config may use, with its description."""

from __future__ import annotations

import json

from .. import options as o


def add_parser(sub) -> None:
    p = sub.add_parser(
        "list",
        help="list every registered model, prior, guide, likelihood, dataset",
        description="List every registered name a config may use, with its description: "
        "models, priors, guides, likelihoods, datasets, encoder/decoder networks and ELBOs "
        "(plug-ins included).",
    )
    o.add_json(
        p,
        "machine-readable output: one JSON object, kind -> name -> description (with --keys, "
        "a JSON list of the key rows)",
    )
    p.add_argument("model", nargs="?", help="with --keys: only this model's keys")
    p.add_argument(
        "--keys",
        action="store_true",
        help="list the config keys of each model and part: default, bounds and meaning",
    )
    o.add_common(p, data_dir=False, device=False, progress=False)
    p.set_defaults(func=run)


def run(args) -> int:
    import pgm
    from inference.elbo import ELBOS

    if args.keys or args.model:  # pgm list [MODEL] --keys
        from pgm.registry_listing import format_keys, key_rows

        print(json.dumps(key_rows(args.model), indent=2) if args.json else format_keys(args.model))
        return 0
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
