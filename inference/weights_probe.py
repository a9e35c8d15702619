"""Loaded weights probed once before use: the model and guide run on one blank image, so finite
weights that give a distribution invalid parameters (a prior scale of -1 in an edited file) are
refused naming the file, before a command scores or samples with them, or a resume keeps them
as the run's best. A failure that freshly built weights show too is the code's (a plug-in's
sign error, say): it is left to surface as the bug it is, not blamed on the file.

The probe changes nothing: no random number is drawn from the caller's generators, gradients
are off, and the model runs in eval mode (batch norm's statistics stay) and is put back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyro
import torch

from pgm.contract import trace_pair

from .checkpoint import CheckpointError
from .nan_diagnosis import first_line, invalid_parameters

__all__ = ["check_valid_distributions"]


def _probe(model) -> ValueError | None:
    """The validation error the model and guide raise on one blank image, if any."""
    if not getattr(model, "has_density", True):
        return None  # the deterministic autoencoder: no distribution to probe
    x = torch.zeros((1, *model.event_shape), device=model.device)
    cuda = [model.device.index or 0] if model.device.type == "cuda" else []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=cuda), pyro.validation_enabled(True):
            trace_pair(model.model, model.guide, x)
    except ValueError as err:
        return err if invalid_parameters(err) else None
    except Exception:  # noqa: BLE001  (another failure is the command's to report, on real data)
        return None
    finally:
        model.train(was_training)
    return None


def check_valid_distributions(
    model, path: Path, fresh: Callable[[], object], what: str = "weights"
) -> None:
    """Refuse, naming ``path``, loaded ``model`` weights whose distributions refuse their
    parameters where freshly built ones (``fresh()``) do not."""
    err = _probe(model)
    if err is None:
        return
    with torch.random.fork_rng(devices=[]):  # building draws initial weights
        built = fresh()
    if _probe(built) is not None:
        return
    raise CheckpointError(
        f"{path}: expected {what} that give valid distributions; found {first_line(err)} "
        "(an edited file, or a run that diverged)"
    )
