"""Shared test setup: Pyro validation on for every test, a clean param store, fixed seeds,
and the location of the real data in ../shared/data (tests that need it skip without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pyro
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PGM_TEST_DATA_DIR", REPO.parent / "shared" / "data"))


def pytest_configure(config):
    # The suite's networks are tiny: one torch thread per test process is as fast as two on an
    # idle machine and far faster on a busy one; run `pytest -n 2` to use both cores. Set here
    # once for every module (and every xdist worker): no test needs a fixture of its own for it.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _pyro_validation():
    import inference.training_config

    inference.training_config._WARNED.clear()  # each test sees its own once-per-process warnings
    pyro.enable_validation(True)
    pyro.clear_param_store()
    torch.manual_seed(0)
    yield
    pyro.clear_param_store()


@pytest.fixture
def shared_data() -> Path:
    """The folder holding binarized_mnist.npz and mnist.npz (skips when absent)."""
    if not (SHARED_DATA / "binarized_mnist.npz").is_file():
        pytest.skip(
            f"real data not found in {SHARED_DATA} "
            "(set PGM_TEST_DATA_DIR to the folder with binarized_mnist.npz)"
        )
    return SHARED_DATA
