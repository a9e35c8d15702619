"""Training loggers: registered sinks for a run's per-epoch numbers, beside ``metrics.jsonl``
(which every run writes, whatever the logger). ``logger = NAME`` in a config picks one from
:data:`LOGGERS`; a plug-in adds its own exactly as pgm's are added::

    from inference.loggers import LOGGERS, Logger

    @LOGGERS.register("mine", "my lab's tracker")
    class MyLogger(Logger):
        def log_epoch(self, record, metrics):
            my_tracker.log(record, step=record["epoch"])

A logger whose package is missing says so when the config is checked, before training
(:meth:`Logger.check_available`). Built-ins: ``jsonl`` (``metrics.jsonl`` only), ``csv``
(``metrics.csv`` beside it) and ``tensorboard`` (``tensorboard/``: the epoch's scalars, the
ELBO's rate and distortion, sample grids at checkpoints and the run's hyperparameters).
"""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING

from pgm.errors import PgmError
from pgm.registry import Registry

from .atomic_write import atomic_write_text

if TYPE_CHECKING:
    import torch

__all__ = [
    "LOGGERS",
    "CsvLogger",
    "JsonlLogger",
    "Logger",
    "TensorBoardLogger",
    "check_logger",
]

#: Loggers by the name a config's ``logger`` key gives; each entry a :class:`Logger` subclass.
LOGGERS = Registry("logger")


class Logger:
    """One sink of a run's training log, made as ``cls(folder)`` when training starts (on rank
    0, in a run folder). Every hook but :meth:`log_epoch` is optional."""

    #: ask for a grid of the model's samples at each checkpoint (:meth:`log_images`)
    wants_images = False
    #: ask for the ELBO's rate and distortion each epoch (:meth:`log_scalars`)
    wants_elbo_parts = False

    @classmethod
    def check_available(cls) -> None:
        """Raise :class:`PgmError` (one line naming ``logger``) when what it needs is missing;
        called when the config is checked, before anything is trained."""

    def __init__(self, folder):
        #: the run's :class:`~inference.run_folder.RunFolder` (``folder.path``,
        #: ``folder.tensorboard``...); not imported here, as the run folder's module reaches
        #: the training config, which checks loggers against :data:`LOGGERS`
        self.folder = folder

    def start(self, config: dict, metrics: list[dict]) -> None:
        """Training starts: the run's resolved ``config``, and the epochs already recorded
        (a resumed run's, as its checkpoint holds them)."""

    def log_epoch(self, record: dict, metrics: list[dict]) -> None:
        """An epoch ended: its ``record`` (a line of ``metrics.jsonl``) and all so far."""

    def log_scalars(self, values: dict[str, float], epoch: int) -> None:
        """Extra numbers of ``epoch`` (the ELBO's parts, ``elbo/rate``...)."""

    def log_images(self, tag: str, image: torch.Tensor, epoch: int) -> None:
        """An image ``(C, H, W)`` in [0, 1] for ``epoch`` (a grid of samples)."""

    def close(self) -> None:
        """Flush and release files (called after an error too)."""


@LOGGERS.register("jsonl", "metrics.jsonl only (written by every run)")
class JsonlLogger(Logger):
    """``metrics.jsonl``, which every run writes anyway: nothing more."""


@LOGGERS.register("csv", "metrics.csv beside metrics.jsonl, one row per epoch")
class CsvLogger(Logger):
    """``metrics.csv``: one row per epoch, rewritten whole each epoch (atomically) from the
    metrics a checkpoint holds, so a resumed run's file is an uninterrupted run's."""

    FILE = "metrics.csv"

    def start(self, config, metrics):
        if metrics:
            self._write(metrics)

    def log_epoch(self, record, metrics):
        self._write(metrics)

    def _write(self, metrics: list[dict]) -> None:
        columns: dict[str, None] = {}
        for row in metrics:
            columns.update(dict.fromkeys(row))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(metrics)
        atomic_write_text(self.folder.path / self.FILE, out.getvalue())


@LOGGERS.register("tensorboard", "TensorBoard log in tensorboard/ (pip install 'pgm[tensorboard]')")
class TensorBoardLogger(Logger):
    """TensorBoard (``torch.utils.tensorboard``) in ``RUN/tensorboard``: each epoch's numbers
    as scalars (``train_loss``, ``valid_loss``, ``lr``...), the ELBO's parts
    (``elbo/rate``, ``elbo/distortion``), a grid of samples at each checkpoint (``samples``),
    and the run's config as hyperparameters (the HPARAMS tab)."""

    wants_images = True
    wants_elbo_parts = True

    @classmethod
    def check_available(cls) -> None:
        try:
            import tensorboard  # noqa: F401
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError:
            raise PgmError(
                "logger: 'tensorboard' needs the tensorboard package (pip install "
                "'pgm[tensorboard]'); found it not installed"
            ) from None

    def __init__(self, folder):
        super().__init__(folder)
        self.writer = None
        self.config: dict = {}

    def start(self, config, metrics):
        self.config = config

    def _writer(self, epoch: int):
        """Opened at the first epoch this session logs: events a killed session wrote for
        that epoch or later (past its last checkpoint) are purged."""
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.folder.tensorboard), purge_step=epoch)
            if epoch == 1:
                self._log_hparams()
        return self.writer

    def _log_hparams(self) -> None:
        from torch.utils.tensorboard.summary import hparams

        values = {
            k: v if isinstance(v, bool | int | float | str) else str(v)
            for k, v in sorted(self.config.items())
            if v is not None
        }
        metrics = dict.fromkeys(("train_loss", "valid_loss", "best_valid_loss"), math.nan)
        for summary in hparams(values, metrics):
            self.writer.file_writer.add_summary(summary)

    def log_epoch(self, record, metrics):
        writer = self._writer(record["epoch"])
        for key, value in record.items():
            if key != "epoch" and isinstance(value, int | float) and not isinstance(value, bool):
                writer.add_scalar(key, value, record["epoch"])
        writer.flush()

    def log_scalars(self, values, epoch):
        writer = self._writer(epoch)
        for key, value in values.items():
            writer.add_scalar(key, value, epoch)
        writer.flush()

    def log_images(self, tag, image, epoch):
        writer = self._writer(epoch)
        writer.add_image(tag, image, epoch)
        writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def check_logger(name: object) -> str:
    """``name`` if it is a registered logger whose requirements are installed; else one line
    naming ``logger``, the loggers there are, or what is missing."""
    LOGGERS.check(name, "logger")
    factory = LOGGERS[name]
    if isinstance(factory, type) and issubclass(factory, Logger):
        factory.check_available()
    return name
