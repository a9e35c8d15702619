"""The one loader of a registered dataset by name, split and folder (what ``pgm.data`` exports
and :class:`~pgm.data.from_config.DataConfig` calls). The built-in datasets are registered when
the ``pgm.data`` package is imported, which any import of this module does first."""

from __future__ import annotations

from pathlib import Path

from ..errors import PgmError
from ..registry import DATASETS
from .dataset import SPLITS, ImageDataset

__all__ = ["load_dataset"]


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
