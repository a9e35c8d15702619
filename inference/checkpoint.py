"""Checkpoints without pickle: tensors in safetensors, everything else as JSON in its metadata.

A checkpoint is one file written atomically (temporary file in the same folder, flush,
fsync, ``os.replace``, fsync of the folder), so a kill at any moment leaves either the old
file or the new one, never half of one. Loading never unpickles: safetensors stores raw
tensors, and the JSON metadata is parsed as data.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

__all__ = [
    "CheckpointError",
    "atomic_write_bytes",
    "atomic_write_text",
    "save_tensors",
    "load_tensors",
    "save_weights",
    "load_weights",
    "rng_state",
    "set_rng_state",
    "flatten_optimizer_state",
    "unflatten_optimizer_state",
]

_FORMAT = "pgm-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, or not one of ours; names the file."""


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f, tmp)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda f, _tmp: f.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> None:
    """Write tensors and JSON-able metadata to one safetensors file, atomically."""
    meta = {"format": _FORMAT, "json": json.dumps(metadata or {})}
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load_tensors(path: Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`save_tensors`; refuse anything else by name."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device=str(device)) as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        with path.open("rb") as f:
            head = f.read(2)
        if head[:1] == b"\x80" or head == b"PK":
            raise CheckpointError(
                f"{path}: refused: this looks like a pickle or torch.save file, which could run "
                "code when loaded; pgm reads only safetensors and never unpickles"
            ) from None
        raise CheckpointError(
            f"{path}: not a readable pgm checkpoint (truncated or corrupted?): {err}"
        ) from None
    if meta.get("format") != _FORMAT:
        raise CheckpointError(f"{path}: not a pgm file (metadata format {meta.get('format')!r}, expected {_FORMAT!r})")
    try:
        extra = json.loads(meta.get("json", "{}"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: corrupted metadata ({err})") from None
    return tensors, extra


def save_weights(path: Path, module: torch.nn.Module, metadata: dict | None = None) -> None:
    save_tensors(path, dict(module.state_dict()), metadata)


def load_weights(path: Path, module: torch.nn.Module) -> dict[str, Any]:
    tensors, meta = load_tensors(path, device="cpu")
    try:
        module.load_state_dict(tensors)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not fit this model ({str(err).splitlines()[0]})") from None
    return meta


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
    np.random.set_state((name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
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
