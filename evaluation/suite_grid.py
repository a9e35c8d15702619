"""The suite's grid of models x seeds: which runs to train (an existing run with the same config
and seed is reused), and training them — one after another, concurrently on this machine
through submitit's ``LocalExecutor`` (``--jobs J``), or on a Slurm cluster through submitit's
``AutoExecutor`` (``--executor slurm``). submitit is the job engine; pgm adds no scheduler of its
own: with the local executor the pending runs are split into ``J`` jobs that each train their
share in turn; on Slurm each run is one element of a job array of at most ``J`` at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from pgm.errors import PgmError

__all__ = [
    "EXECUTORS",
    "MAX_SEEDS",
    "TrainTask",
    "check_grid_options",
    "job_error",
    "run_dir_name",
    "stop_local_job",
    "train_grid",
]

EXECUTORS = ("local", "slurm")
#: a local job's wall-clock limit (submitit's default is 2 minutes)
LOCAL_TIMEOUT_MIN = 7 * 24 * 60
#: the most seeds per model (the calibration uses 16; the grid is built in memory before training)
MAX_SEEDS = 1000


@dataclass
class TrainTask:
    """One run of the grid: its config (with ``seed``), folder, and whether it resumes."""

    name: str
    cfg: dict
    run_dir: Path
    resume: bool
    data_dir: str | None


def run_dir_name(model: str, seed: int) -> str:
    """``vae`` for seed 0 (the suite's folder before seeds), ``vae-seed2`` for seed 2."""
    return model if seed == 0 else f"{model}-seed{seed}"


def check_grid_options(seeds, jobs, executor: str) -> None:
    """One-line refusals of ``--seeds``/``--jobs``/``--executor``, before any training."""
    for flag, value in (("--seeds", seeds), ("--jobs", jobs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PgmError(f"{flag}: expected an integer >= 1; found {value!r}")
    if seeds > MAX_SEEDS:
        raise PgmError(f"--seeds: expected an integer <= {MAX_SEEDS:,}; found {seeds:,}")
    if executor not in EXECUTORS:
        raise PgmError(f"--executor: expected one of {', '.join(EXECUTORS)}; found {executor!r}")
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise PgmError(
            "--executor slurm: expected a Slurm cluster (sbatch on PATH); found none on this "
            "machine (use --executor local --jobs J here)"
        )


def train_tasks(tasks: list[TrainTask]) -> list[str]:
    """Train each task in turn (what one job runs); returns the run folders."""
    from inference import train

    for t in tasks:
        train(t.cfg, t.run_dir, resume=t.resume, data_dir=t.data_dir, progress=False)
    return [str(t.run_dir) for t in tasks]


def stop_local_job(job) -> None:
    """Stop a submitit local job and the task processes it started, at once. submitit's own
    ``cancel`` sends SIGINT, which a process started in the background ignores (and its children
    inherit that), and its tasks let SIGTERM pass (Slurm's preemption signal): a job left so
    trained on after the suite had stopped. SIGKILL is safe for a pgm run (atomic checkpoints,
    exact resume). Without Linux's ``/proc`` (children unknown) submitit's cancel is used."""
    process = getattr(job, "_process", None)
    if process is None or not Path(f"/proc/{process.pid}").is_dir():
        job.cancel(check=False)
        return
    for pid in [*_descendants(process.pid), process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # ended meanwhile
    process.wait()


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid``, deepest first (Linux: ``/proc/PID/task/*/children``)."""
    children: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children += [int(c) for c in listing.read_text().split()]
        except (OSError, ValueError):
            continue
    return [d for c in children for d in (*_descendants(c), c)]


def job_error(err: Exception) -> str:
    """A failed job's cause in one line: the last line of the traceback submitit carries (a
    run's "locked by another process (pid N)"), and its log file; submitit's message itself
    ends with the paths of the logs, which say nothing of the cause."""
    text = str(err)
    parts = text.split("-" * 22)  # submitit frames the job's traceback between such rules
    trace = parts[1] if len(parts) >= 3 else text
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    logs = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
    cause = lines[-1] if lines else type(err).__name__
    # pgm's own errors say what they are in their message: the class's path is noise
    cause = re.sub(r"^(?:pgm|inference|evaluation)(?:\.\w+)*\.\w+: ", "", cause)
    return cause + (f" (log: {logs[-1]})" if logs else "")


def train_grid(tasks: list[TrainTask], jobs: int, executor: str, folder: Path, log=print) -> None:
    """Train ``tasks`` with ``jobs`` concurrent jobs through submitit (job logs in ``folder``);
    a failed job is reported by its run names and submitit's error, after the others finish."""
    import submitit

    if executor == "slurm":
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        ex.update_parameters(slurm_array_parallelism=jobs)
        chunks = [[t] for t in tasks]
    else:
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN)
        chunks = [tasks[i::jobs] for i in range(min(jobs, len(tasks)))]
    submitted = ex.map_array(train_tasks, chunks)
    log(f"submitted {len(tasks)} run(s) as {len(submitted)} {executor} job(s); logs in {folder}")
    failed = []
    try:
        for job, chunk in zip(submitted, chunks, strict=True):
            try:
                job.result()
            except Exception as e:  # noqa: BLE001 — reported with the runs it concerns
                # a job trains its runs in turn: the first failure ends the job
                runs = (
                    chunk[0].name
                    if len(chunk) == 1
                    else f"the job of {', '.join(t.name for t in chunk)}"
                )
                failed.append(f"{runs}: {job_error(e)}")
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM to this process alone (pgm_cli.main)
        if executor != "slurm":
            # local jobs are this machine's processes: stopped with the suite (their
            # checkpoints are atomic, and the same command resumes them), not left training
            # into folders the rerun would find locked
            for job in submitted:
                stop_local_job(job)
        raise
    if failed:
        raise PgmError(f"--jobs: expected every run to train; found failures: {'; '.join(failed)}")
