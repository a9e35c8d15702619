"""Datasets: every one yields ``(N, C, H, W)`` integers in ``{0..K-1}`` and states K."""

from __future__ import annotations

from . import digits, npz, torchvision_datasets  # noqa: F401  (registration)
from .dataset import SPLITS, ImageDataset
from .digits import load_digits
from .from_config import DataConfig, config_dataset, load_data
from .loader import load_dataset
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
