"""What a training checkpoint must hold to be trusted: its epoch (the file's name and its
metadata agree), consistent metadata fields, and optimizer state shaped like the model's
parameters. Checkpoints are ordered by their epoch number, never by name."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError

__all__ = [
    "checkpoint_epoch",
    "check_checkpoint_meta",
    "check_optimizer_state",
    "sorted_checkpoints",
]

_NAME = re.compile(r"epoch-(\d+)\.safetensors")


def checkpoint_epoch(path: str | Path) -> int | None:
    """The epoch a checkpoint's name states (``epoch-00012.safetensors`` -> 12), or None for a
    name pgm does not write."""
    match = _NAME.fullmatch(Path(path).name)
    return int(match.group(1)) if match else None


def sorted_checkpoints(folder: Path) -> list[Path]:
    """The checkpoints in ``folder``, oldest first by epoch number (``epoch-99999`` before
    ``epoch-100000``); files with other names are not pgm's and are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(checkpoint_epoch(p), p) for p in folder.glob("epoch-*.safetensors") if p.is_file()]
    return [p for e, p in sorted((e, p) for e, p in found if e is not None)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_checkpoint_meta(meta: dict, path: Path) -> None:
    """Refuse, naming the field, metadata a pgm trainer cannot have written: ``epoch`` an
    integer >= 0 equal to the name's, ``step`` >= ``epoch``, ``best_epoch`` in [0, epoch],
    ``best_valid_loss`` finite or null, ``metrics`` one dict of finite numbers (or null) per
    epoch numbered 1, 2, ..., ``optimizer`` and ``rng`` of the right form."""

    def refuse(field: str, expected: str, found: Any) -> None:
        text = repr(found)
        text = text if len(text) <= 60 else text[:57] + "..."
        raise CheckpointError(f"{path}: expected metadata {field} {expected}; found {text}")

    epoch = meta.get("epoch")
    if not _is_int(epoch) or epoch < 0:
        refuse("'epoch'", "an integer >= 0", epoch)
    named = checkpoint_epoch(path)
    if named is not None and named != epoch:
        refuse("'epoch'", f"{named} (the file's name)", epoch)
    step = meta.get("step")
    if not _is_int(step) or step < epoch:
        refuse("'step'", f"an integer >= epoch ({epoch})", step)
    best_epoch = meta.get("best_epoch")
    if not _is_int(best_epoch) or not 0 <= best_epoch <= epoch:
        refuse("'best_epoch'", f"an integer in [0, {epoch}]", best_epoch)
    best = meta.get("best_valid_loss")
    if best is not None and not _is_number(best):
        refuse("'best_valid_loss'", "a finite number or null", best)
    metrics = meta.get("metrics")
    if not isinstance(metrics, list) or len(metrics) != epoch:
        refuse("'metrics'", f"a list of {epoch} per-epoch records", metrics)
    for i, record in enumerate(metrics):
        if not isinstance(record, dict) or record.get("epoch") != i + 1:
            refuse(f"'metrics'[{i}]", f"a record of epoch {i + 1}", record)
        for key, value in record.items():
            if value is not None and not _is_number(value):
                refuse(f"'metrics'[{i}][{key!r}]", "a finite number or null", value)
    if metrics and metrics[-1].get("step") != step:
        refuse("'step'", f"{metrics[-1].get('step')} (the last metrics record's)", step)
    optimizer = meta.get("optimizer")
    if not (
        isinstance(optimizer, dict)
        and isinstance(optimizer.get("param_groups"), list)
        and all(
            isinstance(g, dict) and isinstance(g.get("params"), list)
            for g in optimizer["param_groups"]
        )
        and isinstance(optimizer.get("plain"), dict)
        and all(isinstance(v, dict) for v in optimizer["plain"].values())
    ):
        refuse("'optimizer'", "{param_groups: [{params: [...], ...}], plain: {...}}", optimizer)
    rng = meta.get("rng")
    if not (
        isinstance(rng, dict)
        and isinstance(rng.get("python"), list)
        and len(rng["python"]) == 3
        and isinstance(rng.get("numpy"), list)
        and len(rng["numpy"]) == 4
    ):
        refuse("'rng'", "{python: [3 items], numpy: [4 items]}", rng)


def check_optimizer_state(state_dict: dict, params: list[torch.nn.Parameter], path: Path) -> None:
    """Refuse an optimizer state whose parameters are not the model's: their number, and the
    shape of every per-parameter tensor (Adam's ``exp_avg``...) but the scalar ``step``."""
    saved = [i for group in state_dict["param_groups"] for i in group["params"]]
    if len(saved) != len(params):
        raise CheckpointError(
            f"{path}: expected optimizer state for the model's {len(params)} parameters; "
            f"found {len(saved)}"
        )
    order = {index: position for position, index in enumerate(saved)}
    for index, entry in state_dict["state"].items():
        if index not in order:
            raise CheckpointError(
                f"{path}: expected optimizer state of the listed parameters; found parameter "
                f"{index}"
            )
        shape = tuple(params[order[index]].shape)
        for key, value in entry.items():
            if not torch.is_tensor(value):
                continue
            want = () if key == "step" else shape
            if tuple(value.shape) != want:
                raise CheckpointError(
                    f"{path}: expected optimizer state optim.{index}.{key} of shape {want} (the "
                    f"model's parameter); found {tuple(value.shape)}"
                )
