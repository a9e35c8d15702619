"""Representation quality: a linear probe on the latent codes of every model with a code (the
autoencoder included), raw pixels as the reference (:mod:`..representation`). The test
images' codes are kept on each run for the traversal figures."""

from __future__ import annotations

import torch

from pgm.data import config_dataset

from ..comparison import Comparison
from ..progress import progress_bar
from ..representation import encode_all, linear_probe
from ..tables import Column, Table
from .section import Section

__all__ = ["SECTION"]

TABLE = Table(
    (
        "Representation quality: test accuracy of a linear classifier (logistic regression on "
        "standardised features) trained on the codes E_q[z|x] of the training split; "
        "probe converged: whether that classifier's fit converged (not the model's training)."
    ),
    "representation",
    "",
    [
        Column("model", "model"),
        Column("features", "features"),
        Column("feature dim", "feature_dim", "d"),
        Column("test accuracy", "accuracy", ".3f"),
        Column("train images", "num_train", "d"),
        Column("test images", "num_test", "d"),
        Column(
            "probe converged",
            "converged",
            "",
            "whether the logistic regression's fit converged (scikit-learn), not the model's",
        ),
    ],
)


def _probe(c: Comparison) -> list[dict]:
    """Linear probe on raw pixels (the reference) and on each coded model's E_q[z|x]."""
    o, split_data = c.options, c.data
    coded = [r for r in c.runs if r.has_codes]
    if split_data.labels is None or not coded:
        return []
    train = config_dataset(c.runs[0].cfg, "train", o.data_dir).subset(o.representation_train_images)
    if train.labels is None:
        return []
    xtr, ytr = train.float_images(), train.labels.numpy()
    xte, yte = split_data.float_images(), split_data.labels.numpy()
    pixels = linear_probe(
        "pixels",
        "raw pixels",
        xtr.flatten(1).numpy(),
        ytr,
        xte.flatten(1).numpy(),
        yte,
        seed=o.seed,
    )
    rows = [pixels.as_dict()]
    for run in progress_bar(coded, "linear probe", o.progress):
        torch.manual_seed(o.seed)
        train_codes = encode_all(run.model, xtr)
        kind = "E_q[z|x]" if run.model.has_density else "code (encoder output)"
        probe = linear_probe(run.name, kind, train_codes, ytr, run.test_codes, yte, seed=o.seed)
        rows.append(probe.as_dict())
    return rows


def compute(c: Comparison) -> None:
    with c.timed("representation"):
        for run in c.runs:
            if run.has_codes:
                torch.manual_seed(c.options.seed)
                run.test_codes = encode_all(run.model, c.x)
        c.results["representation"] = _probe(c)


SECTION = Section("representation", "Representation quality", tables=[TABLE], compute=compute)
