"""The training callback protocol: :class:`Callback`, whose hooks
:meth:`inference.trainer.Trainer.fit` calls at fixed points, and :class:`CallbackList`, which
calls several in order (the built-ins are in :mod:`inference.callbacks`)."""

from __future__ import annotations

__all__ = ["Callback", "CallbackList"]


class Callback:
    """Hooks of a fit, each a no-op here; subclasses override the ones they need. ``trainer``
    is the :class:`~inference.trainer.Trainer` being fit (not imported here: the trainer
    imports this module, and a type-only import back would close a circle)."""

    def on_train_start(self, trainer) -> None:
        """Before the first epoch of this fit (a resumed run: after its checkpoint loaded)."""

    def on_epoch_start(self, trainer) -> None:
        """Before an epoch's first step."""

    def on_step_end(self, trainer, loss: float) -> None:
        """After each optimiser step, with the step's loss."""

    def on_epoch_end(self, trainer, record: dict) -> None:
        """After an epoch and its validation: ``trainer.epoch`` counts it, and ``record`` (the
        last of ``trainer.metrics``) may still be added to by the callbacks that follow."""

    def on_checkpoint(self, trainer) -> None:
        """After a checkpoint of ``trainer.epoch`` was written."""

    def on_train_end(self, trainer) -> None:
        """After the last epoch of this fit, when it ended without an error."""

    def on_close(self, trainer) -> None:
        """Always, last (after an error too): release files, bars."""


class CallbackList(Callback):
    """Callbacks called in order, as one."""

    def __init__(self, callbacks: list[Callback]):
        self.callbacks = list(callbacks)

    def on_train_start(self, trainer):
        for c in self.callbacks:
            c.on_train_start(trainer)

    def on_epoch_start(self, trainer):
        for c in self.callbacks:
            c.on_epoch_start(trainer)

    def on_step_end(self, trainer, loss):
        for c in self.callbacks:
            c.on_step_end(trainer, loss)

    def on_epoch_end(self, trainer, record):
        for c in self.callbacks:
            c.on_epoch_end(trainer, record)

    def on_checkpoint(self, trainer):
        for c in self.callbacks:
            c.on_checkpoint(trainer)

    def on_train_end(self, trainer):
        for c in self.callbacks:
            c.on_train_end(trainer)

    def on_close(self, trainer):
        errors = []
        for c in self.callbacks:
            try:
                c.on_close(trainer)
            except Exception as err:  # every callback gets to close; the first error wins
                errors.append(err)
        if errors:
            raise errors[0]
