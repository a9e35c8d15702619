"""scikit-learn's 8×8 handwritten digits: the embedded default data, no download needed."""

from __future__ import annotations

import numpy as np
import torch

from ..registry import DATASETS
from .dataset import ImageDataset

__all__ = ["load_digits"]

_SPLIT_SEED = 0
# 1,797 images: 1,257 train / 180 valid / 360 test, a fixed seeded permutation.
_NUM_VALID = 180
_NUM_TEST = 360


def _split_indices(n: int, split: str) -> np.ndarray:
    order = np.random.RandomState(_SPLIT_SEED).permutation(n)
    test = order[:_NUM_TEST]
    valid = order[_NUM_TEST : _NUM_TEST + _NUM_VALID]
    train = order[_NUM_TEST + _NUM_VALID :]
    return {"train": train, "valid": valid, "test": test}[split]


def load_digits(split: str = "train", binary: bool = False) -> ImageDataset:
    """The UCI handwritten digits shipped with scikit-learn: 8×8 grey levels 0..16 (K = 17),
    or thresholded at 8 (K = 2) when ``binary``. Labels 0..9."""
    from sklearn.datasets import load_digits as sk_load_digits

    data = sk_load_digits()
    images = data.images.astype(np.int64)  # (1797, 8, 8), values 0..16
    if binary:
        images = (images >= 8).astype(np.int64)
    idx = _split_indices(len(images), split)
    x = torch.from_numpy(images[idx].astype(np.uint8)).unsqueeze(1)
    y = torch.from_numpy(data.target[idx].astype(np.int64))
    name = "digits-binary" if binary else "digits"
    return ImageDataset(name, split, x, 2 if binary else 17, y)


@DATASETS.register("digits", "scikit-learn's 8x8 digits, 17 grey levels (embedded, no download)")
def _digits(split: str, data_dir=None, download: bool = False) -> ImageDataset:
    return load_digits(split, binary=False)


@DATASETS.register("digits-binary", "scikit-learn's 8x8 digits thresholded at 8 (K = 2)")
def _digits_binary(split: str, data_dir=None, download: bool = False) -> ImageDataset:
    return load_digits(split, binary=True)
