"""Which runs are replicates of one model: runs whose resolved configs differ only in ``seed``
(and in session keys — device, data folder, logger, checkpoints kept — that say how a run was
executed, not what it trained) are seeds of one model; ``--group NAME=RUN,RUN,...`` groups runs
by hand (a run named there is in no other group).

A model of the comparison is then a :class:`ModelGroup`: its name, its runs (by their names in
the report) and their seeds. Two runs of one group with the same config *and* the same seed are
one network trained twice, not two replicates: refused in a hand-made group, kept apart (each
its own model) when grouping by config.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from inference.fingerprint import SESSION_KEYS
from inference.out_path import check_name
from inference.trainer import network_seed
from pgm.errors import PgmError
from pgm.model_config import inapplicable_keys, read_keys

__all__ = [
    "IGNORED_KEYS",
    "ModelGroup",
    "group_runs",
    "model_name",
    "parse_groups",
    "replicate_key",
    "unique_name",
]

#: keys that do not make two runs different models
IGNORED_KEYS = frozenset(SESSION_KEYS) | {"seed"}

_SEED_SUFFIX = re.compile(r"-seed\d+$")


@dataclass
class ModelGroup:
    """One model of the comparison: its runs (report names), their seeds, how it was grouped
    (``"config"``: same config but the seed; ``"by hand"``: ``--group``) and, for a hand-made
    group, the config keys in which its runs differ beyond the seed."""

    model: str
    runs: list[str]
    seeds: list[int | None]
    grouped: str = "config"
    config_differences: list[str] = field(default_factory=list)

    @property
    def num_seeds(self) -> int:
        return len(self.runs)

    def as_dict(self) -> dict:
        return {**asdict(self), "num_seeds": self.num_seeds}


def replicate_key(cfg: dict) -> str:
    """The resolved config without the seed, session keys and the model keys its model does
    not read (which an earlier pgm recorded, e.g. ``encoder_input`` with a plug-in encoder),
    as canonical JSON."""
    kept = {k: v for k, v in read_keys(cfg).items() if k not in IGNORED_KEYS}
    return json.dumps(kept, sort_keys=True, default=str)


def model_name(runs: list[str]) -> str:
    """The name of a model grouped by config from its runs' names, whatever their order (the
    report's is best first, and a model is not named after its best seed): a run's own name
    alone; their common name without ``-seedN`` (the suite's ``vae-seed0``, ``vae-seed1``:
    ``vae``); else their longest common prefix and ``*`` (``vamp-s0``, ``vamp-s1``: ``vamp-s*``);
    else the names joined by ``+``."""
    if len(runs) == 1:
        return runs[0]
    stripped = {_SEED_SUFFIX.sub("", r) for r in runs}
    if len(stripped) == 1:
        return stripped.pop()
    prefix = os.path.commonprefix(sorted(runs))
    return f"{prefix}*" if prefix else "+".join(sorted(runs))


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base#2``, ``base#3``, ... : the first not in ``taken``."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}#{n}"
    return name


def parse_groups(specs: list[str] | None) -> dict[str, list[str]]:
    """``["vae=a,b", ...]`` -> ``{"vae": ["a", "b"]}``, refusing a malformed or repeated one."""
    groups: dict[str, list[str]] = {}
    for spec in specs or []:
        name, sep, runs = str(spec).partition("=")
        members = [r.strip() for r in runs.split(",") if r.strip()]
        if not sep or not name.strip() or not members:
            raise PgmError(f"--group: expected NAME=RUN,RUN,...; found {spec!r}")
        if name.strip() in groups:
            raise PgmError(f"--group: expected each NAME once; found {name.strip()!r} twice")
        # a model's name goes into tables, figures and idata.nc: the rule of --label
        check_name(name.strip(), "--group", "a model NAME")
        groups[name.strip()] = members
    return groups


def _find(member: str, runs: list[tuple[str, Path, dict]]) -> int:
    for i, (name, path, _) in enumerate(runs):
        if member == name or Path(member).resolve() == Path(path).resolve():
            return i
    raise PgmError(
        f"--group: expected runs being compared (names: {', '.join(r[0] for r in runs)}); "
        f"found {member!r}"
    )


def _differences(cfgs: list[dict]) -> list[str]:
    # a key one run's model does not read (encoder_input with a plug-in encoder, a key pgm 0.1
    # recorded) is no difference; the model key names a different model anyway
    unread = {k for c in cfgs for k in inapplicable_keys(c)}
    cfgs = [{k: v for k, v in c.items() if k not in unread} for c in cfgs]
    keys = sorted({k for c in cfgs for k in c} - IGNORED_KEYS)
    return [k for k in keys if len({json.dumps(c.get(k), default=str) for c in cfgs}) > 1]


def _low_bits(seed) -> str:
    """Where a seed is the same as a smaller one in torch's eyes, say so."""
    low = network_seed(seed)
    return f" (as torch reads it: its low 32 bits, {low})" if low != seed else ""


def _check_distinct_seeds(group: ModelGroup, cfgs: list[dict]) -> None:
    seen: dict[tuple, str] = {}
    for run, seed, cfg in zip(group.runs, group.seeds, cfgs, strict=True):
        key = (network_seed(seed), replicate_key(cfg))
        if key in seen:
            raise PgmError(
                f"runs: expected different seeds for the replicates of {group.model}; found "
                f"{seen[key]} and {run} with the same config and seed {seed}{_low_bits(seed)} "
                "(one network trained twice, not two replicates)"
            )
        seen[key] = run


def group_runs(
    runs: list[tuple[str, Path, dict]], manual: dict[str, list[str]] | None = None
) -> list[ModelGroup]:
    """Group ``runs`` (``(name, folder, resolved config)``, in report order) into models:
    the hand-made groups first as given, then the other runs by :func:`replicate_key`, each
    group named by :func:`model_name` (made unique)."""
    manual = manual or {}
    taken: dict[int, str] = {}
    groups: list[ModelGroup] = []
    run_names = {r[0] for r in runs}
    for name, members in manual.items():
        idx = [_find(m, runs) for m in members]
        if name in run_names - {runs[i][0] for i in idx}:  # "vae-s1" would mean two things
            raise PgmError(
                f"--group: expected a NAME unlike the names of runs outside the group; found "
                f"{name}, the name of a run not in it"
            )
        for i in idx:
            if taken.get(i) == name:
                raise PgmError(
                    f"--group: expected each run once in a group; found {runs[i][0]} twice in "
                    f"{name}"
                )
            if i in taken:
                raise PgmError(
                    f"--group: expected each run in one group; found {runs[i][0]} in "
                    f"{taken[i]} and {name}"
                )
            taken[i] = name
        if len(idx) < 2:  # a group of one run is no model over seeds, and hid the run's own
            raise PgmError(  # seeds from the grouping by config
                f"--group: expected two runs or more in a group (the seeds of one model); found "
                f"{runs[idx[0]][0]} alone in {name} (a run left out of --group is grouped with "
                "the runs of its config; --label renames a run)"
            )
        cfgs = [runs[i][2] for i in idx]
        groups.append(
            ModelGroup(
                name,
                [runs[i][0] for i in idx],
                [runs[i][2].get("seed") for i in idx],
                "by hand",
                _differences(cfgs),
            )
        )
    # runs of one config; a second run with a seed already in a group (one network trained
    # twice) is not a replicate: it starts a group of its own
    by_key: dict[str, list[list[int]]] = {}
    for i, (_, _, cfg) in enumerate(runs):
        if i in taken:
            continue
        subgroups = by_key.setdefault(replicate_key(cfg), [])
        seed = network_seed(cfg.get("seed"))
        home = next(
            (g for g in subgroups if all(network_seed(runs[j][2].get("seed")) != seed for j in g)),
            None,
        )
        if home is None:
            subgroups.append([i])
        else:
            home.append(i)
    used = set(manual)
    for idx in (g for subgroups in by_key.values() for g in subgroups):
        base = model_name([runs[i][0] for i in idx])
        # a model is not named after a run outside it (runs a-seed0, a-seed1 and another
        # model's run a: the seeds' model is a#2, so replicate_of = "a" means run a's model)
        name = unique_name(base, used | (run_names - {runs[i][0] for i in idx}))
        used.add(name)
        groups.append(
            ModelGroup(name, [runs[i][0] for i in idx], [runs[i][2].get("seed") for i in idx])
        )
    for g in groups[: len(manual)]:
        _check_distinct_seeds(g, [runs[_find(r, runs)][2] for r in g.runs])
    return groups
