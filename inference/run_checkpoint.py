"""The weights of a run that is still training: its newest checkpoint's best validation epoch's
weights (``best``, stored under the ``best.`` prefix) or its current ones (``last``, under
``model.``), read without pickle, and what they are (:class:`RunWeights`) for a person and for
the name of an evaluation file.

Training may write a checkpoint while this reads (an atomic rename) and delete the older one
(``keep_checkpoints``): a newest checkpoint that vanishes between listing and reading is
replaced, once, by the new newest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_tensors
from .checkpoint_meta import check_checkpoint_meta, sorted_checkpoints
from .config import ConfigError
from .run_folder import RunFolder
from .trainer_state import BEST_PREFIX, MODEL_PREFIX, check_best_weights, weights_under

__all__ = ["CHECKPOINT_CHOICES", "RunWeights", "check_checkpoint_choice", "read_checkpoint"]

#: ``load_run(checkpoint=...)`` and ``pgm evaluate --checkpoint``: which weights of the newest
#: checkpoint, by the prefix :func:`inference.trainer_state.save_checkpoint` stores them under
CHECKPOINT_CHOICES = {"best": BEST_PREFIX, "last": MODEL_PREFIX}


@dataclass(frozen=True)
class RunWeights:
    """The weights a run was loaded with: ``model.safetensors`` (``checkpoint`` None), or the
    ``best`` or ``last`` weights of the checkpoint ``path`` of epoch ``epoch``; ``weights_epoch``
    is the epoch those weights are of (the best validation epoch for ``best``), and ``sha256``
    a digest of their tensors (the same best weights in a later checkpoint have the same)."""

    path: Path
    checkpoint: str | None = None
    epoch: int | None = None
    weights_epoch: int | None = None
    sha256: str | None = None

    def describe(self) -> str:
        """``best of epoch-00118.safetensors (best epoch 117)``, or the weights file's name."""
        if self.checkpoint is None:
            return self.path.name
        if self.checkpoint == "best":
            return f"best of {self.path.name} (best epoch {self.weights_epoch})"
        return f"last of {self.path.name} (epoch {self.epoch})"

    @property
    def label(self) -> str | None:
        """``ckpt-best-e00117`` (which weights, of which epoch) for checkpoint weights."""
        if self.checkpoint is None:
            return None
        return f"ckpt-{self.checkpoint}-e{self.weights_epoch:05d}"


def check_checkpoint_choice(checkpoint) -> None:
    """Refuse a ``checkpoint`` other than None, ``"best"`` or ``"last"`` in one line."""
    if checkpoint is not None and not (
        isinstance(checkpoint, str) and checkpoint in CHECKPOINT_CHOICES
    ):
        raise ConfigError(
            f"checkpoint: expected 'best', 'last' or None (model.safetensors); found {checkpoint!r}"
        )


def _digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        value = state[name].detach().cpu().contiguous()
        digest.update(f"{name}{value.dtype}{tuple(value.shape)}".encode())
        if value.numel():
            digest.update(value.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _newest(run: Path) -> tuple[Path, dict, dict]:
    """The newest checkpoint of ``run`` with its tensors and metadata; one that vanished before
    it was read (training rotated it away) gives way to the new newest, once."""
    folder = RunFolder(run).checkpoints
    for attempt in range(2):
        found = sorted_checkpoints(folder)
        if not found:
            why = (
                f"the run has finished: evaluate its {RunFolder(run).weights.name} without "
                "--checkpoint"
                if RunFolder(run).weights.is_file()
                else "the run has not finished a checkpointed epoch yet"
            )
            raise CheckpointError(f"run: expected a checkpoint in {folder}; found none ({why})")
        path = found[-1]
        try:
            tensors, meta = load_tensors(path)
        except CheckpointError as err:
            if path.exists():  # corrupt, not rotated away: as a resume, name the one before
                hint = f"; move it away to read {found[-2].name} instead" if found[1:] else ""
                raise CheckpointError(f"{err}{hint}") from None
            if attempt == 0:
                continue
            raise CheckpointError(
                f"{err} (training replaced the newest checkpoint twice while it was read; "
                "try again)"
            ) from None
        return path, tensors, meta
    raise AssertionError("unreachable")  # pragma: no cover


def read_checkpoint(run: Path, which: str) -> tuple[dict[str, torch.Tensor], dict, RunWeights]:
    """``(state, metadata, weights)``: the ``which`` (``best`` or ``last``) weights of ``run``'s
    newest checkpoint as a state dict, the checkpoint's checked metadata (its ``config`` is the
    one the weights were trained with), and what they are. A checkpoint that is not one of
    pgm's, or holds no best weights yet (no validation epoch), is refused by name."""
    check_checkpoint_choice(which)
    path, tensors, meta = _newest(Path(run))
    check_checkpoint_meta(meta, path)
    prefix = CHECKPOINT_CHOICES[which]
    state = weights_under(tensors, prefix)
    epoch = meta["epoch"]
    if which == "best":
        check_best_weights(state, meta, path)
    if which == "best" and not state:
        raise CheckpointError(
            f"{path}: expected the best validation epoch's weights; found none (no validation "
            f"epoch by epoch {epoch}; --checkpoint last takes its current weights)"
        )
    if not state:
        raise CheckpointError(f"{path}: expected the model's weights (model.*); found none")
    weights_epoch = meta["best_epoch"] if which == "best" else epoch
    return state, meta, RunWeights(path, which, epoch, weights_epoch, _digest(state))
