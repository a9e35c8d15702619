"""Datasets: every one yields ``(N, C, H, W)`` integers in ``{0..K-1}`` and states K."""

from __future__ import annotations

from pathlib import Path

from ..errors import PgmError
from ..registry import DATASETS
from . import digits, npz, torchvision_datasets  # noqa: F401  (registration)
from .dataset import SPLITS, ImageDataset
from .digits import load_digits
from .from_config import DataConfig, config_dataset, load_data
from .npz import load_binarized_mnist, load_mnist, resolve_data_dir
from .torchvision_datasets import load_torchvision

__all__ = [
    "SPLITS",
    "DataConfig",
    "ImageDataset",
    "config_dataset",
    "load_binarized_mnist",
    "load_dataset",
    "load_digits",
    "load_data",
    "load_mnist",
    "load_torchvision",
    "resolve_data_dir",
]


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | Path | None = None,
    download: bool = False,
) -> ImageDataset:
    """Load dataset ``name`` (see ``pgm list``) at ``split`` in ``train``/``valid``/``test``."""
    DATASETS.check(name, "data")
    if split not in SPLITS:
        raise PgmError(f"split: expected one of {', '.join(SPLITS)}; found {split!r}")
    return DATASETS[name](split, data_dir=data_dir, download=download)
