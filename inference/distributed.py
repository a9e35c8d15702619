"""Multi-process training with PyTorch DistributedDataParallel: one process per device, on one
machine or several, launched by ``torchrun``.

::

    torchrun --nproc_per_node=4 -m pgm_cli.torchrun vae-binarized-mnist \\
        --out runs/vae
    torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --master_port=29500 \\
        --nproc_per_node=8 -m pgm_cli.torchrun CONFIG --out RUN        # the same on every node
    pgm train CONFIG --out RUN --distributed                         # under torchrun as well

How the work is split, and why it stays one run:

- **Data.** Every rank builds the same per-epoch permutation (a pure function of seed and
  epoch, as in single-process training) and takes every ``world_size``-th image of each
  global batch, starting at its rank: ``batch_size`` stays the *global* batch, so an epoch
  has the same steps and the same images per step as without DDP, and the loss is weighted so
  that DDP's gradient average is exactly the gradient of the mean over the global batch.
  There is no ``pyro.plate`` subsampling, which Pyro's guidance rules out across workers.
- **Gradients.** The negative ELBO of a rank's shard is computed by a small ``nn.Module``
  (:class:`ELBOLoss`) wrapped in DDP, so DDP's hooks see the forward and all-reduce the
  gradients of every parameter the model and guide touched. Parameters are created (the model
  built and traced once) before wrapping, as Pyro asks; DDP then checks that every rank holds
  the same ones and broadcasts rank 0's values.
- **Randomness.** The noise of step ``s`` on rank ``r`` is drawn from a generator seeded by
  ``(seed, s, r)``: ranks draw independent noise for their images, and a resumed run draws
  exactly what an uninterrupted one would, with nothing per rank to save.
- **Files.** Rank 0 alone owns the run folder (config, metrics, checkpoints, final weights),
  through the same :func:`inference.run.train` a single process uses; the other ranks run
  with no folder. On resume, rank 0 sends the checkpoint it loaded to the others over the
  process group, so several nodes need no shared file system.
- **One number everywhere.** Each step all-reduces the loss value (and a flag for a failed
  rank), so the NaN guard, the metrics and the choice of best weights agree on every rank.

Backends: NCCL when the config's device is CUDA (``LOCAL_RANK`` picks the GPU), gloo on CPU.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import pgm
from pgm.data import ImageDataset

from .config import ConfigError
from .run import train
from .trainer import FitResult, Trainer, resolve_device
from .training_config import TrainingConfig

__all__ = ["DistributedTrainer", "ELBOLoss", "init_process_group", "train_distributed"]


class ELBOLoss(nn.Module):
    """``forward(x, beta) -> loss``: a trainer's objective on a batch, as a module.

    DDP all-reduces the gradients of the parameters used inside its wrapped module's forward;
    a Pyro model and guide are plain callables, so this module is what DDP wraps: it owns the
    generative model (hence its parameters) and calls the trainer's objective in ``forward``.
    """

    def __init__(self, model: pgm.GenerativeModel, objective):
        super().__init__()
        self.model = model
        self.objective = objective  # a bound method, not a submodule

    def forward(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        return self.objective(x, beta)


class _OtherRankFailed(RuntimeError):
    """Raised on the ranks that did not fail, so every process stops at the same step."""


class DistributedTrainer(Trainer):
    """The :class:`~inference.trainer.Trainer`, its step and loop unchanged, with the loss of
    each batch (:meth:`batch_loss`) computed on this rank's shard of the global batch through
    DDP (see the module's docstring). Construct it inside an initialised process group.
    """

    def __init__(self, config, model: pgm.GenerativeModel, run_dir: str | Path | None = None, **kw):
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedTrainer: expected an initialised process group (launch with torchrun, "
                "or call inference.distributed.init_process_group first); found none"
            )
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        super().__init__(config, model, run_dir if self.rank == 0 else None, **kw)
        if self.device.type == "cuda":
            # "cuda" alone means the current device, which train_distributed set from LOCAL_RANK
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.ddp: DistributedDataParallel | None = None

    # -- DDP --------------------------------------------------------------------------------
    def _setup(self, x: torch.Tensor) -> None:
        super()._setup(x)
        if self.ddp is not None:
            return
        self.ddp = DistributedDataParallel(
            ELBOLoss(self.model, self.objective),
            device_ids=[self.device.index] if self.device.type == "cuda" else None,
            find_unused_parameters=self._has_unused_parameters(x[:2]),
        )

    def _has_unused_parameters(self, x: torch.Tensor) -> bool:
        """Whether some parameter gets no gradient from the loss (DDP must then be told, or it
        waits for that gradient forever). Decided once, on a forked RNG, identically on all
        ranks."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            return False
        devices = [self.device.index] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            loss = self.objective(x)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        return any(g is None for g in grads)

    def _step_seed(self) -> int:
        return (self.training.seed * 1_000_003 + self.step) * 65_537 + self.rank

    # -- the loss of a batch ------------------------------------------------------------------
    def batch_loss(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """The global batch's mean negative ELBO per image, differentiated on this rank's shard.

        The returned value is the same on every rank (the mean over the whole batch ``x``); its
        gradient is this rank's share, ``count · W / N`` times its shard's mean, so DDP's average
        over W ranks is the gradient of the mean over the N images.
        """
        n = x.shape[0]
        shard = x[self.rank :: self.world_size]
        weight = shard.shape[0] * self.world_size / n
        if shard.shape[0] == 0:
            # a last batch smaller than the world: this rank still joins the all-reduce
            shard, weight = x[:1], 0.0
        training = torch.is_grad_enabled() and self.model.training
        failed = None
        try:
            if training:
                torch.manual_seed(self._step_seed())
                loss = self.ddp(shard, beta) * weight
            else:  # validation: no gradients to reduce, and valid_loss has seeded its own RNG
                loss = self.objective(shard, beta) * weight
            report = torch.stack([loss.detach().float(), loss.new_zeros((), dtype=torch.float32)])
        except Exception as err:  # every rank must reach the all-reduce below, or the others hang
            failed = err
            report = torch.tensor([0.0, 1.0], device=self.device)
        dist.all_reduce(report)
        if failed is not None:
            raise failed
        if report[1] > 0:
            raise _OtherRankFailed(f"step {self.step + 1}: another rank failed; see its error")
        # the global mean as the value, this rank's share as the gradient
        return loss + (report[0] / self.world_size - loss.detach())

    # -- state --------------------------------------------------------------------------------
    def fit(
        self,
        train_x: torch.Tensor,
        valid_x: torch.Tensor | None = None,
        progress: bool = True,
        **limits,
    ) -> FitResult:
        self._adopt_rank0_checkpoint()
        return super().fit(train_x, valid_x, progress=progress and self.rank == 0, **limits)

    def _adopt_rank0_checkpoint(self) -> None:
        """Every rank continues from the checkpoint rank 0 resumed from (if any): rank 0 sends
        the file's bytes, the others load them with the same ``load_checkpoint``."""
        data = b""
        if self.rank == 0 and self.epoch > 0 and self.run_dir is not None:
            latest = self.latest_checkpoint()
            data = latest.read_bytes() if latest is not None else b""
        payload = _broadcast_bytes(
            data, self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        )
        if self.rank == 0 or not payload:
            return
        with tempfile.TemporaryDirectory(prefix="pgm-rank-") as folder:
            path = Path(folder) / "epoch-received.safetensors"
            path.write_bytes(payload)
            self.load_checkpoint(path)


def _broadcast_bytes(data: bytes, device: torch.device) -> bytes:
    """Rank 0's ``data`` on every rank (a length, then the bytes as a uint8 tensor)."""
    size = torch.tensor([len(data)], dtype=torch.int64, device=device)
    dist.broadcast(size, src=0)
    if int(size) == 0:
        return b""
    if dist.get_rank() == 0:
        buffer = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device)
    else:
        buffer = torch.empty(int(size), dtype=torch.uint8, device=device)
    dist.broadcast(buffer, src=0)
    return data if dist.get_rank() == 0 else buffer.cpu().numpy().tobytes()


def init_process_group(device: torch.device) -> bool:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``); without torchrun, a group of one. NCCL for CUDA (on the GPU ``LOCAL_RANK``
    names), gloo otherwise. Returns True when this call created the group (its caller then
    destroys it), False when one was already there."""
    if dist.is_initialized():
        return False
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    backend = "nccl" if device.type == "cuda" else "gloo"
    if "WORLD_SIZE" in os.environ:
        dist.init_process_group(backend)
    else:  # `pgm train --distributed` without torchrun: one process, the same code path
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    return True


def train_distributed(
    config: dict,
    run_dir: str | Path | None = None,
    resume: bool = False,
    data_dir: str | None = None,
    progress: bool = True,
    data: tuple[ImageDataset, ImageDataset] | None = None,
) -> FitResult | None:
    """:func:`inference.run.train` on every rank of a torchrun job, with DDP.

    Every rank loads the data and builds the model from the same config and seed; rank 0 alone
    checks and writes ``run_dir`` (and returns the :class:`FitResult`; the other ranks return
    None). ``resume=True`` continues the run on every rank from rank 0's last checkpoint.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"config: expected a table of settings; found {type(config).__name__}")
    device = resolve_device(TrainingConfig.from_config(config).device)
    created = init_process_group(device)
    try:
        if dist.get_rank() == 0:
            return train(
                config,
                run_dir,
                resume=resume,
                data_dir=data_dir,
                progress=progress,
                data=data,
                trainer_class=DistributedTrainer,
            )
        # the other ranks: the same training, with no run folder and no output
        train(
            config,
            None,
            data_dir=data_dir,
            progress=False,
            data=data,
            trainer_class=DistributedTrainer,
        )
        return None
    finally:
        if created:
            dist.destroy_process_group()
