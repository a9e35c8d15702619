"""Early stopping with a look-ahead: stop once the validation loss has not improved for
``patience`` epochs; the best epoch's weights are the run's result."""

from __future__ import annotations

__all__ = ["epochs_without_improvement", "should_stop"]


def epochs_without_improvement(epoch: int, best_epoch: int) -> int:
    """Epochs completed since the best one (``epoch`` epochs done, the best was ``best_epoch``,
    both counted from 1; 0 means none yet)."""
    return epoch - best_epoch if best_epoch else epoch


def should_stop(epoch: int, best_epoch: int, patience: int) -> bool:
    """True once ``patience`` epochs (the look-ahead; 0 turns early stopping off) have passed
    without a better validation loss — e.g. Tomczak & Welling (2018) use a look-ahead of 50.
    A function of the epoch counters a checkpoint holds, so a resumed run stops where an
    uninterrupted one would."""
    return patience > 0 and epochs_without_improvement(epoch, best_epoch) >= patience
