"""The in-memory image dataset every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import PgmError

__all__ = ["SPLITS", "ImageDataset"]

SPLITS = ("train", "valid", "test")


@dataclass
class ImageDataset:
    """Images ``(N, C, H, W)`` of integers in ``{0, ..., num_levels - 1}`` (dtype uint8),
    optional integer ``labels: (N,)``, and the dataset's number of levels K per pixel."""

    name: str
    split: str
    images: torch.Tensor
    num_levels: int
    labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.images.dim() != 4:
            raise PgmError(
                f"{self.name}: images expected shape (N, C, H, W); found {tuple(self.images.shape)}"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_dims(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    def __len__(self) -> int:
        return self.images.shape[0]

    def float_images(self) -> torch.Tensor:
        """The images as ``float32`` holding the integer grey levels ``{0, ..., K-1}``
        (``K = num_levels``; e.g. 0..16 for digits, 0/1 for binarized MNIST), NOT scaled to
        [0, 1]: the form a model's ``x`` takes, ``(N, C, H, W)``. A model that wants [0, 1]
        divides by ``K - 1`` itself; its likelihood must give the levels themselves mass."""
        return self.images.float()

    def subset(self, n: int | None) -> ImageDataset:
        """The first ``n`` images (all of them when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        labels = None if self.labels is None else self.labels[:n]
        return ImageDataset(self.name, self.split, self.images[:n], self.num_levels, labels)
