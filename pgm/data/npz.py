"""Binarized MNIST (static, Larochelle & Murray 2011) and MNIST, read from ``.npz`` files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import PgmError
from ..registry import DATASETS
from .dataset import ImageDataset

__all__ = ["load_binarized_mnist", "load_mnist", "resolve_data_dir"]

_HOW_TO_GET = {
    "binarized_mnist.npz": (
        "an .npz with uint8 arrays 'train' (50000, 784) and 'valid' (10000, 784) (optionally "
        "'test'), the static binarization of Larochelle & Murray 2011"
    ),
    "mnist.npz": (
        "an .npz with uint8 arrays 'x_train' (60000, 28, 28), 'y_train', 'x_test', 'y_test' "
        "(the layout of keras.datasets.mnist)"
    ),
}


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """``data_dir`` if given, else ``$PGM_DATA_DIR``, else ``~/.pgm/data``."""
    import os

    if data_dir is None:
        data_dir = os.environ.get("PGM_DATA_DIR") or Path.home() / ".pgm" / "data"
    return Path(data_dir).expanduser()


def _open_npz(data_dir: str | Path | None, filename: str) -> dict[str, np.ndarray]:
    path = resolve_data_dir(data_dir) / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"data: expected {path}, {_HOW_TO_GET[filename]}; found no such file (put it there, "
            "or point --data-dir / PGM_DATA_DIR at the folder holding it)"
        )
    try:
        # our own handle: np.load leaks the one it opens when the zip archive is corrupted
        with path.open("rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if not hasattr(loaded, "files"):  # np.load returns a bare array for a .npy file
                raise PgmError("a single .npy array, not an .npz archive")
            with loaded as f:
                return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PgmError(
            f"data: {path} is not a readable .npz archive: expected a zip of .npy arrays; "
            f"found a corrupted or different file ({reason})"
        ) from None


def _need(arrays: dict[str, np.ndarray], key: str, filename: str, split: str) -> np.ndarray:
    if key not in arrays:
        raise PgmError(
            f"split {split!r}: {filename} has no array {key!r} (it has {sorted(arrays)})"
        )
    return arrays[key]


def load_binarized_mnist(split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """Static binarized MNIST: ``(N, 1, 28, 28)`` in {0, 1}, no labels."""
    name = "binarized_mnist.npz"
    arrays = _open_npz(data_dir, name)
    flat = _need(arrays, split, name, split)
    if flat.ndim != 2 or flat.shape[1] != 784:
        raise PgmError(
            f"{name}[{split!r}]: expected (N, 784) values in {{0, 1}}; found shape {flat.shape}"
        )
    if flat.size and (flat.min() < 0 or flat.max() > 1):
        raise PgmError(
            f"{name}[{split!r}]: expected (N, 784) values in {{0, 1}}; found values from "
            f"{flat.min()} to {flat.max()}"
        )
    x = torch.from_numpy(flat.astype(np.uint8)).view(-1, 1, 28, 28)
    return ImageDataset("binarized-mnist", split, x, 2, None)


def load_mnist(split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """MNIST with 256 grey levels: ``(N, 1, 28, 28)``; valid is the last 10,000 training images."""
    name = "mnist.npz"
    arrays = _open_npz(data_dir, name)
    if split == "test":
        x, y = _need(arrays, "x_test", name, split), _need(arrays, "y_test", name, split)
    else:
        x, y = _need(arrays, "x_train", name, split), _need(arrays, "y_train", name, split)
        x, y = (x[:-10000], y[:-10000]) if split == "train" else (x[-10000:], y[-10000:])
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise PgmError(f"{name}[{split!r}]: expected (N, 28, 28); found shape {x.shape}")
    images = torch.from_numpy(x.astype(np.uint8)).unsqueeze(1)
    return ImageDataset("mnist", split, images, 256, torch.from_numpy(y.astype(np.int64)))


@DATASETS.register("binarized-mnist", "static binarized MNIST (Larochelle & Murray), from .npz")
def _binarized_mnist(split: str, data_dir=None, download: bool = False) -> ImageDataset:
    return load_binarized_mnist(split, data_dir)


@DATASETS.register("mnist", "MNIST with 256 grey levels, from .npz")
def _mnist(split: str, data_dir=None, download: bool = False) -> ImageDataset:
    return load_mnist(split, data_dir)
