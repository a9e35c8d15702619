"""``pgm compare --group NAME=RUN,...``: hand-made groups of runs (models of several seeds) are
refused in one line when a run is named twice, in one group or in two."""

from __future__ import annotations

import pytest

from evaluation.replicates import group_runs
from pgm.errors import PgmError

CFG = {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17}


def _runs(tmp_path):
    return [(n, tmp_path / n, {**CFG, "seed": s}) for s, n in enumerate(["a", "b", "c"])]


def test_a_run_named_twice_in_one_group_is_said_so(tmp_path):
    """It said "found a in g and g", as if two groups held it."""
    with pytest.raises(PgmError) as caught:
        group_runs(_runs(tmp_path), {"g": ["a", "a"]})
    assert str(caught.value) == "--group: expected each run once in a group; found a twice in g"


def test_a_run_in_two_groups_names_both(tmp_path):
    with pytest.raises(PgmError) as caught:
        group_runs(_runs(tmp_path), {"g": ["a", "b"], "h": ["c", "a"]})
    assert str(caught.value) == "--group: expected each run in one group; found a in g and h"
    groups = group_runs(_runs(tmp_path), {"g": ["a", "b"]})
    assert [(g.model, g.runs) for g in groups][0] == ("g", ["a", "b"])


def test_a_failed_jobs_cause_is_its_tracebacks_last_line_not_a_log_path():
    """``--jobs``: a job failing on a locked run said "found failures: vae:   - .../x_log.out"."""
    from evaluation.suite_grid import job_error

    text = (
        "Job (task=0) failed during processing with trace:\n----------------------\n"
        'Traceback (most recent call last):\n  File "x.py", line 3, in f\n'
        "inference.run_lock.RunLockedError: --out: run locked by another process (pid 7)\n\n"
        "----------------------\nYou can check full logs with 'job.stderr(0)' and "
        "'job.stdout(0)'or at paths:\n  - /j/1_0_log.err\n  - /j/1_0_log.out"
    )
    assert job_error(RuntimeError(text)) == (
        "--out: run locked by another process (pid 7) (log: /j/1_0_log.out)"
    )  # pgm's own error class is not repeated; another library's stays
    assert (
        job_error(RuntimeError(text.replace("inference.run_lock.RunLockedError", "OSError")))[:8]
        == "OSError:"
    )
    assert job_error(RuntimeError("plain failure")) == "plain failure"


def test_local_jobs_are_cancelled_when_the_suite_is_stopped(tmp_path, monkeypatch):
    """SIGTERM to ``pgm suite --jobs 2`` alone (raised as a KeyboardInterrupt) left its local
    jobs training, so the same command, run again, found their runs locked. The local jobs are
    cancelled with it; Slurm jobs are the cluster's, left as they are."""
    import submitit

    from evaluation.suite_grid import TrainTask, train_grid

    cancelled = []

    class Job:
        def __init__(self, i):
            self.i = i

        def result(self):
            raise KeyboardInterrupt  # the signal, while the suite waits for the first job

        def cancel(self, check=True):
            cancelled.append(self.i)

    class Executor:
        def __init__(self, folder, **kwargs):
            pass

        def update_parameters(self, **kwargs):
            pass

        def map_array(self, fn, chunks):
            return [Job(i) for i in range(len(chunks))]

    monkeypatch.setattr(submitit, "LocalExecutor", Executor)
    tasks = [TrainTask(n, {}, tmp_path / n, False, None) for n in ("a", "b", "c")]
    with pytest.raises(KeyboardInterrupt):
        train_grid(tasks, 2, "local", tmp_path / "jobs", log=lambda line: None)
    assert cancelled == [0, 1]
    cancelled.clear()
    monkeypatch.setattr(submitit, "AutoExecutor", Executor)
    with pytest.raises(KeyboardInterrupt):
        train_grid(tasks, 2, "slurm", tmp_path / "jobs", log=lambda line: None)
    assert cancelled == []
