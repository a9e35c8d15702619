"""One writer per run folder: two real ``pgm train`` processes on one folder, the second
refused in one line naming the first's pid; a SIGKILLed holder leaves no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference.run_lock import LOCK_FILE, RunLock, RunLockedError, lock_holder

REPO = Path(__file__).resolve().parents[1]

# long enough that the first process still trains while the second starts (it is killed)
CONFIG = """
data = "digits"
model = "vae"
latent_dim = 2
hidden_dim = 8
num_train = 100
batch_size = 50
epochs = 100000
seed = {seed}
device = "cpu"
"""


#: whether this kernel shows its lock table (Linux), which ``lock_holder`` reads
PROC_LOCKS = os.access("/proc/locks", os.R_OK)


@pytest.mark.skipif(not PROC_LOCKS, reason="no /proc/locks (not Linux)")
def test_lock_holder_names_the_process_holding_the_lock_and_none_otherwise(tmp_path):
    """``pgm reproduce --list --out`` says which row is being trained now: the holder's pid,
    read from /proc/locks without opening the lock file; no holder, no lock file, a lock file
    left by a dead process, or a link in its place: None."""
    assert lock_holder(tmp_path) is None  # no lock file
    lock = RunLock(tmp_path)
    before = (tmp_path / LOCK_FILE).read_bytes()
    assert lock_holder(tmp_path) == os.getpid()
    assert (tmp_path / LOCK_FILE).read_bytes() == before  # asking wrote nothing
    assert lock_holder(tmp_path, name="other-lock") is None
    lock.release()
    assert (tmp_path / LOCK_FILE).exists() and lock_holder(tmp_path) is None  # left, not held
    other = tmp_path / "other"
    other.mkdir()
    held = RunLock(other)
    (tmp_path / LOCK_FILE).unlink()
    (tmp_path / LOCK_FILE).symlink_to(other / LOCK_FILE)  # a link is never followed
    assert lock_holder(tmp_path) is None and lock_holder(other) == os.getpid()
    held.release()


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _pgm(*argv: str, **kwargs):
    return [sys.executable, "-m", "pgm_cli", *argv]


def _wait_for_lock(run: Path, proc: subprocess.Popen, timeout: float = 120.0) -> int:
    """The pid the lock file names, once the first process has taken the lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the first process stopped early"
        text = (run / LOCK_FILE).read_text().strip() if (run / LOCK_FILE).exists() else ""
        if text.isdigit() and (run / "config.json").exists():
            return int(text)
        time.sleep(0.05)
    raise AssertionError("the first process never took the lock")


@pytest.mark.slow
def test_second_process_on_one_run_folder_is_refused_naming_the_holder(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(CONFIG.format(seed=1))
    b.write_text(CONFIG.format(seed=2))
    run = tmp_path / "run"
    first = subprocess.Popen(
        _pgm("train", str(a), "--out", str(run), "--no-progress"),
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        holder = _wait_for_lock(run, first)
        assert holder == first.pid
        config_before = (run / "config.json").read_bytes()
        # a new run, and a resume, of the same folder while the first trains
        for argv in (
            ["train", str(b), "--out", str(run)],
            ["train", "--out", str(run), "--resume"],
        ):
            done = subprocess.run(
                _pgm(*argv, "--no-progress"),
                cwd=REPO,
                env=_env(),
                capture_output=True,
                text=True,
                timeout=300,
            )
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 2 and len(lines) == 1, done.stderr
            if "--resume" in argv:
                assert f"locked by another process (pid {first.pid}" in lines[0], lines[0]
            else:  # the first already wrote config.json: refused either way, never overwritten
                assert f"pid {first.pid}" in lines[0] or "already holding a run" in lines[0], lines[
                    0
                ]
            assert first.poll() is None, "the first process stopped"
        assert (run / "config.json").read_bytes() == config_before
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    # the kernel released the dead holder's lock: the lock file is still there, the lock is not
    assert (run / LOCK_FILE).exists()
    with RunLock(run):
        pass


def test_lock_is_exclusive_between_processes_and_named(tmp_path):
    """A child process holds the lock; this one is refused with the child's pid; after the
    child is SIGKILLed the lock is free at once."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from inference.run_lock import RunLock; "
            "lock = RunLock(sys.argv[1]); print('locked', flush=True); time.sleep(600)",
            str(tmp_path),
        ],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(
            RunLockedError,
            match=r"^--out: expected a run folder no other process is writing; "
            rf"found .* locked by another process \(pid {child.pid};",
        ):
            RunLock(tmp_path)
        if PROC_LOCKS:  # read from the kernel's table, without touching the lock
            assert lock_holder(tmp_path) == child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert lock_holder(tmp_path) is None
    lock = RunLock(tmp_path)
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()
