"""Checkpoints without pickle: tensors in safetensors, everything else as JSON in its metadata.

A checkpoint is one file written by :func:`~.atomic_write.atomic_write_bytes`, so a kill at any
moment leaves either the old file or the new one, never half of one; a kill mid-write leaves
only a hidden ``.NAME.XXXXXXXX.tmp`` file, which :func:`remove_stale_temporaries` clears on
resume. Loading never unpickles: safetensors stores raw tensors, and the JSON metadata is
parsed as data. A pickle or ``torch.save`` file put in a checkpoint's place is refused by name
before anything reads it as a pickle.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from pgm.errors import PgmError

from .atomic_write import atomic_write_bytes, temporary_pattern

__all__ = [
    "CheckpointError",
    "check_state",
    "flatten_optimizer_state",
    "load_state",
    "load_tensors",
    "load_weights",
    "read_metadata",
    "remove_stale_temporaries",
    "rng_state",
    "save_tensors",
    "save_weights",
    "set_rng_state",
    "unflatten_optimizer_state",
]

_FORMAT = "pgm-checkpoint-1"
_META_KEY = "pgm"


class CheckpointError(PgmError):
    """A checkpoint file that is missing, truncated, or not one of ours; names the file."""


#: The temporaries of the files of a run folder pgm writes atomically, and the write probe of a
#: new run folder.
_OWN_TEMPORARY = re.compile(
    temporary_pattern(
        r"config\.json|metrics\.jsonl|metrics\.csv|model\.safetensors|epoch-\d+\.safetensors"
    )
    + r"|\.pgm-write-test\.\d+\.tmp"
)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the hidden temporary files a killed atomic write left in ``folder``; returns them.
    Only the exact names pgm's own writes use are touched (a user's ``.notes.tmp`` stays)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.glob(".*.tmp") if _OWN_TEMPORARY.fullmatch(p.name) and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def save_tensors(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None
) -> None:
    """Write tensors and JSON-able metadata to one safetensors file, atomically.

    The metadata is ONE safetensors metadata entry holding sorted JSON: safetensors keeps its
    metadata in a hash map whose order changes from process to process, so two entries would
    make equal checkpoints differ byte for byte between a resumed run and an uninterrupted one.
    """
    meta = {_META_KEY: json.dumps({"format": _FORMAT, "metadata": metadata or {}}, sort_keys=True)}
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write_bytes(path, save(tensors, metadata=meta))


def _refuse_pickle(path: Path, head: bytes) -> None:
    """Refuse, by its first bytes and before any reader sees it, a file that is a pickle
    (protocol 2+ starts with 0x80) or a ``torch.save`` archive (a zip: ``PK``).

    A safetensors file starts with its header's length (8 bytes, little-endian) and then the
    JSON header ``{...``; its first byte may well be 0x80 (a header of 128 + 256 n bytes), so
    a file whose ninth byte opens the JSON header is never taken for a pickle."""
    if len(head) > 8 and head[8:9] == b"{":
        return
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise CheckpointError(
            f"{path}: expected a safetensors file written by pgm; found a pickle or torch.save "
            "file, refused unread (unpickling can run arbitrary code; pgm never unpickles)"
        )


def load_tensors(
    path: Path, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`save_tensors`; refuse anything else by name."""
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise _unreadable(path, err) from None
    return tensors, meta


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata :func:`save_tensors` stored in ``path``, without reading its tensors; a
    file that is not one of pgm's is refused by name (a pickle unread)."""
    path = Path(path)
    if not path.is_file():
        found = "a folder" if path.is_dir() else "no such file"
        raise CheckpointError(f"{path}: expected a pgm safetensors file; found {found}")
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as err:
        raise CheckpointError(f"{path}: cannot be read ({err.strerror or err})") from None
    _refuse_pickle(path, head)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise _unreadable(path, err) from None
    if _META_KEY not in meta:
        raise CheckpointError(
            f"{path}: expected a file written by pgm (metadata format {_FORMAT!r}); found "
            f"format None (metadata entries: {', '.join(sorted(meta)) or 'none'})"
        )
    try:
        header = json.loads(meta[_META_KEY])
    except (ValueError, RecursionError) as err:  # ValueError: a 5000-digit integer too
        reason = "nested too deeply" if isinstance(err, RecursionError) else err
        raise CheckpointError(
            f"{path}: expected JSON metadata; found corrupted metadata ({reason})"
        ) from None
    found = header.get("format") if isinstance(header, dict) else None
    extra = header.get("metadata") if isinstance(header, dict) else None
    if found != _FORMAT:
        raise CheckpointError(
            f"{path}: expected a file written by pgm (metadata format {_FORMAT!r}); "
            f"found format {found!r}"
        )
    if not isinstance(extra, dict):
        raise CheckpointError(
            f"{path}: expected a JSON object as metadata; found {type(extra).__name__}"
        )
    return extra


def _unreadable(path: Path, err: Exception) -> CheckpointError:
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return CheckpointError(
        f"{path}: expected a complete pgm safetensors file; found an unreadable one "
        f"(truncated or corrupted? {reason})"
    )


def save_weights(path: Path, module: torch.nn.Module, metadata: dict | None = None) -> None:
    save_tensors(path, dict(module.state_dict()), metadata)


def load_weights(path: Path, module: torch.nn.Module) -> dict[str, Any]:
    """Load weights into ``module``; tensors of another dtype than the module's (int8 weights
    would be cast silently) or with non-finite values are refused, naming the file and tensor."""
    tensors, meta = load_tensors(path, device="cpu")
    load_state(tensors, module, path)
    return meta


def load_state(
    tensors: dict[str, torch.Tensor], module: torch.nn.Module, path: Path, prefix: str = ""
) -> None:
    """Load a state dict read from ``path`` into ``module``, with :func:`load_weights`'s checks
    (dtype, finite values, the model's own tensors), naming the file and tensor (as stored:
    under ``prefix`` in a checkpoint)."""
    check_state(tensors, module, path, prefix)
    try:
        module.load_state_dict(tensors)
    except RuntimeError as err:
        found = " ".join(line.strip() for line in str(err).splitlines()[1:3])
        raise CheckpointError(
            f"{path}: expected weights of this model; found others ({found})"
        ) from None


def check_state(
    tensors: dict[str, torch.Tensor], module: torch.nn.Module, path: Path, prefix: str = ""
) -> None:
    """Refuse, naming the file and tensor, a state dict that is not ``module``'s weights: a
    tensor missing or left over, of another shape or dtype (int8 weights would be cast
    silently), or with non-finite values. Loads nothing."""
    own = module.state_dict()
    missing = [prefix + k for k in own if k not in tensors]
    unexpected = [prefix + k for k in tensors if k not in own]
    if missing or unexpected:
        found = [
            f"{len(ks)} {what} ({_names(ks)})"
            for what, ks in (("missing", missing), ("unexpected", unexpected))
            if ks
        ]
        raise CheckpointError(
            f"{path}: expected weights of this model; found others ({', '.join(found)})"
        )
    for name, value in tensors.items():
        if value.dtype != own[name].dtype:
            raise CheckpointError(
                f"{path}: expected tensor {prefix + name!r} of dtype {own[name].dtype}; found "
                f"{value.dtype}"
            )
        if value.shape != own[name].shape:
            raise CheckpointError(
                f"{path}: expected tensor {prefix + name!r} of shape {tuple(own[name].shape)}; "
                f"found {tuple(value.shape)}"
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"{path}: expected finite weights; found non-finite values in {prefix + name!r}"
            )


def _names(keys: list[str], shown: int = 3) -> str:
    """``'a', 'b', 'c' and 5 more``: a few tensor names, each cut short."""
    names = ", ".join(repr(k if len(k) <= 60 else k[:59] + "…") for k in keys[:shown])
    return names + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The RNG states of Python, NumPy and torch (CPU and CUDA), as tensors and JSON."""
    version, state, gauss = random.getstate()
    np_state = np.random.get_state()
    tensors = {
        "rng.torch": torch.get_rng_state(),
        "rng.numpy": torch.from_numpy(np_state[1].astype(np.int64)),
    }
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    meta = {
        "python": [version, list(state), gauss],
        "numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    version, state, gauss = meta["python"]
    random.setstate((version, tuple(state), gauss))
    name, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state(
        (name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, cached)
    )
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if states:
            torch.cuda.set_rng_state_all(states)


def flatten_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split a torch optimiser's ``state_dict`` into tensors and JSON (no pickle needed)."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for idx, entry in state_dict["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                plain.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "plain": plain}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, entry in meta["plain"].items():
        state.setdefault(int(idx), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}
