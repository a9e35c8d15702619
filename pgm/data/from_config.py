"""The data a run's config names: the data layer's keys (``data``, ``data_dir``, ``download``,
``num_train``), their defaults and checks, and the splits they load."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..config_keys import declare_keys
from ..errors import PgmError
from ..registry import DATASETS
from ..validation import check_bool, check_int
from .dataset import ImageDataset
from .loader import load_dataset

__all__ = ["DATA_KEYS", "DATA_SESSION_KEYS", "DataConfig", "config_dataset", "load_data"]


@dataclass(frozen=True)
class DataConfig:
    """The data layer of a run's config, checked when made. A field marked ``session`` says
    where the data is found, not which data is trained on: a resumed run may change it."""

    #: a registered dataset (``pgm list``; a plug-in may add one)
    data: str = "digits"
    #: the folder holding the files; "" means --data-dir / $PGM_DATA_DIR / ~/.pgm/data
    data_dir: str = dataclasses.field(default="", metadata={"session": True})
    #: fetch a missing torchvision dataset
    download: bool = dataclasses.field(default=False, metadata={"session": True})
    #: the first num_train training images (0: every one)
    num_train: int = 0

    def __post_init__(self) -> None:
        DATASETS.check(self.data, "data")
        if not isinstance(self.data_dir, str):
            raise PgmError(f"data_dir: expected a path string; found {self.data_dir!r}")
        check_bool(self.download, "download")
        check_int(self.num_train, "num_train", minimum=0)

    @classmethod
    def from_config(cls, config: dict) -> DataConfig:
        """The data keys of a flat config (the others are left to their layers), defaults
        filled in; a bad value is refused in one line naming its key."""
        return cls(**{k: config[k] for k in DATA_KEYS if k in config})

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def dataset(self, split: str, data_dir: str | Path | None = None) -> ImageDataset:
        """Split ``split`` of the dataset; ``data_dir`` (e.g. ``--data-dir``) wins over the
        config's own ``data_dir``, which wins over ``$PGM_DATA_DIR``."""
        return load_dataset(self.data, split, data_dir or self.data_dir or None, self.download)

    def splits(self, data_dir: str | Path | None = None) -> tuple[ImageDataset, ImageDataset]:
        """The train split (capped at ``num_train`` images) and the valid split."""
        train = self.dataset("train", data_dir)
        return train.subset(self.num_train or None), self.dataset("valid", data_dir)


DATA_KEYS = tuple(f.name for f in dataclasses.fields(DataConfig))
#: keys that say where the data is found, not what it is
DATA_SESSION_KEYS = frozenset(
    f.name for f in dataclasses.fields(DataConfig) if f.metadata.get("session")
)
declare_keys("data", DATA_KEYS)


def config_dataset(cfg: dict, split: str, data_dir: str | Path | None = None) -> ImageDataset:
    """Split ``split`` of the dataset a (run's) config names; ``data_dir`` (e.g. ``--data-dir``)
    wins over the config's own ``data_dir``, which wins over ``$PGM_DATA_DIR``."""
    return DataConfig.from_config(cfg).dataset(split, data_dir)


def load_data(cfg: dict, data_dir: str | Path | None = None) -> tuple[ImageDataset, ImageDataset]:
    """The train and valid splits named by ``cfg["data"]`` (``num_train`` caps the train split)."""
    return DataConfig.from_config(cfg).splits(data_dir)
