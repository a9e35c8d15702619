"""Denormals flushed to zero while a CPU session trains (inference/denormals.py): on inside
fit, restored after it (torch has no getter, so the state is probed), off when the session key
says so, and the key checked like any other."""

from __future__ import annotations

import pytest
import torch

import pgm
from inference import Trainer, resolve_config
from inference.callback import Callback
from inference.denormals import denormals_flushed, flush_denormals
from pgm.errors import PgmError
from tests.tiny_run import TINY_RUN

TINY = {**TINY_RUN, "epochs": 2, "batch_size": 25}  # two steps an epoch


@pytest.fixture(autouse=True)
def _denormals_kept():
    torch.set_flush_denormal(False)
    yield
    torch.set_flush_denormal(False)


class _Seen(Callback):
    def __init__(self):
        self.flushed = []

    def on_epoch_end(self, trainer, record):
        self.flushed.append(denormals_flushed())


def _fit(**changes) -> list[bool]:
    cfg = resolve_config({**TINY, **changes}, image_shape=[1, 8, 8], num_levels=17)
    torch.manual_seed(0)
    x = torch.randint(0, 17, (50, 1, 8, 8)).float()
    trainer = Trainer(cfg, pgm.build(cfg))
    seen = _Seen()
    default = trainer.default_callbacks
    trainer.default_callbacks = lambda *a: [*default(*a), seen]
    trainer.fit(x, progress=False)
    return seen.flushed


def test_the_probe_reads_the_state_torch_sets():
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    assert denormals_flushed() and float(torch.tensor(1e-40) * 1.0) == 0.0
    torch.set_flush_denormal(False)
    assert not denormals_flushed() and float(torch.tensor(1e-40) * 1.0) > 0.0


def test_the_block_sets_the_state_asked_for_and_restores_the_one_before():
    with flush_denormals() as flushed:
        assert flushed == denormals_flushed()
    assert not denormals_flushed()
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    with flush_denormals(False) as flushed:  # on before: kept inside, on again afterwards
        assert not flushed and not denormals_flushed()
    assert denormals_flushed()


_WORKERS = """
import sys, torch
from inference.denormals import flush_for_the_process
if sys.argv[1] == "first":
    flush_for_the_process()
torch.set_num_threads(2)
x = torch.full((1 << 20,), 1e-30)
x * 1.0  # a parallel operation: the worker threads start here
if sys.argv[1] == "late":
    flush_for_the_process()
print(float(((x * 1e-10) != 0).float().mean()))
"""


@pytest.mark.parametrize("when, denormal", [("first", False), ("late", True)])
def test_worker_threads_flush_only_when_the_process_flushed_before_they_started(when, denormal):
    """torch's OpenMP workers inherit the state of the thread that starts them: flushed
    first thing, a 2-thread multiplication gives no denormal; flushed after the pool started,
    the workers' share of it still does (about half)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", _WORKERS, when], capture_output=True, text=True, env=env, check=True
    )
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    share = float(out.stdout.strip().splitlines()[-1])
    assert (share > 0.1) if denormal else share == 0.0


def test_the_command_line_flushes_before_any_command_runs(monkeypatch):
    import inference.denormals
    import pgm_cli.main

    calls = []
    monkeypatch.setattr(inference.denormals, "flush_for_the_process", lambda: calls.append(1))
    assert pgm_cli.main.main(["list"]) == 0
    assert calls == [1]


def test_a_cpu_session_trains_with_denormals_flushed_and_restores_them():
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    torch.set_flush_denormal(False)
    assert _fit() == [True, True]
    assert not denormals_flushed()


def test_the_session_key_turns_it_off():
    assert _fit(flush_denormal=False) == [False, False]


def test_a_bad_value_is_refused_naming_the_key():
    with pytest.raises(PgmError, match="flush_denormal"):
        resolve_config({**TINY, "flush_denormal": "yes"}, image_shape=[1, 8, 8], num_levels=17)
