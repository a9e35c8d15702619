"""Representation quality: how linearly separable the classes are in a model's latent code.

A linear classifier (multinomial logistic regression on standardised features) is fitted on
the codes E_q[z | x] (``encode``) of the training split and scored on the test split: the
"linear probe" used to compare unsupervised feature learners, here the deterministic
autoencoder against each VAE. Raw pixels through the same classifier are the reference.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pgm.errors import PgmError

__all__ = ["ProbeResult", "encode_all", "linear_probe"]


@dataclass
class ProbeResult:
    """Test accuracy of the linear probe on one feature set."""

    model: str
    features: str
    feature_dim: int
    accuracy: float
    num_train: int
    num_test: int
    converged: bool

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def encode_all(model, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """``model.encode`` over ``x: (N, C, H, W)`` in batches: the codes ``(N, L)`` as numpy."""
    device = getattr(model, "device", torch.device("cpu"))
    out = [
        model.encode(x[s : s + batch_size].to(device).float()).cpu()
        for s in range(0, x.shape[0], batch_size)
    ]
    return torch.cat(out).double().numpy()


def linear_probe(
    name: str,
    features: str,
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    max_iter: int = 2000,
    seed: int = 0,
) -> ProbeResult:
    """Fit logistic regression on ``train_features: (N_train, F)`` and report test accuracy.

    Features are standardised on the training split (so the regularisation strength means the
    same for every model's code scale)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, xte = np.asarray(train_features, np.float64), np.asarray(test_features, np.float64)
    ytr, yte = np.asarray(train_labels).ravel(), np.asarray(test_labels).ravel()
    if xtr.ndim != 2 or xte.ndim != 2 or xtr.shape[1] != xte.shape[1]:
        raise PgmError(
            "train_features/test_features: expected (N, F) arrays with the same F; "
            f"found {xtr.shape} and {xte.shape}"
        )
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise PgmError(
            f"labels: expected one per row ({len(xtr)} train, {len(xte)} test); "
            f"found {len(ytr)} and {len(yte)}"
        )
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(xtr, ytr)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:  # anything but the convergence note is somebody else's business
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    accuracy = float((clf.predict(xte) == yte).mean())
    return ProbeResult(name, features, int(xtr.shape[1]), accuracy, len(xtr), len(xte), converged)
