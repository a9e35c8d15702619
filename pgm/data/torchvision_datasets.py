"""FashionMNIST and CIFAR-10 through torchvision's own dataset classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..registry import DATASETS
from .dataset import ImageDataset
from .npz import resolve_data_dir

__all__ = ["load_torchvision"]

_VALID_SIZE = {"fashion-mnist": 10000, "cifar10": 5000}


def load_torchvision(
    name: str, split: str = "train", data_dir: str | Path | None = None, download: bool = False
) -> ImageDataset:
    """Load ``fashion-mnist`` (1×28×28, K = 256) or ``cifar10`` (3×32×32, K = 256).

    Files are read from ``data_dir`` in torchvision's layout and downloaded only when
    ``download`` is True; valid is the tail of the training set.
    """
    import torchvision

    cls = {
        "fashion-mnist": torchvision.datasets.FashionMNIST,
        "cifar10": torchvision.datasets.CIFAR10,
    }[name]
    root = resolve_data_dir(data_dir)
    try:
        ds = cls(str(root), train=split != "test", download=download)
    except RuntimeError as err:
        raise FileNotFoundError(
            f"{name}: torchvision found no usable files under {root} ({err}); set download = true "
            "(--set download=true) on a machine that is online, or point --data-dir / "
            "PGM_DATA_DIR at a folder holding them"
        ) from None
    data = ds.data
    images = torch.as_tensor(np.asarray(data))
    images = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.long)
    if split != "test":
        n_valid = min(_VALID_SIZE[name], len(images) // 6 or 1)
        sl = slice(None, -n_valid) if split == "train" else slice(-n_valid, None)
        images, labels = images[sl], labels[sl]
    return ImageDataset(name, split, images.to(torch.uint8).contiguous(), 256, labels)


@DATASETS.register("fashion-mnist", "FashionMNIST via torchvision (download on request)")
def _fashion(split: str, data_dir=None, download: bool = False) -> ImageDataset:
    return load_torchvision("fashion-mnist", split, data_dir, download)


@DATASETS.register("cifar10", "CIFAR-10 via torchvision (download on request)")
def _cifar(split: str, data_dir=None, download: bool = False) -> ImageDataset:
    return load_torchvision("cifar10", split, data_dir, download)
