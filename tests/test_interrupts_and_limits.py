"""Interrupts and limits: the torchrun entry point shares the CLI's config checks,
Ctrl-C (at start-up, before the first checkpoint, during compare) leaves nothing behind and
says so in one line, resume touches only pgm's own temporaries, memory limits are read, and the
estimator's partial sums stay bounded in K."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny_run import TINY_RUN

import evaluation.log_likelihood  # noqa: F401  (the module, for the folding test)
import pgm
from inference import train
from pgm_cli.main import main
from pgm_cli.torchrun import main as torchrun_main

REPO = Path(__file__).resolve().parents[1]
TINY = TINY_RUN


def _toml(path: Path, settings: dict) -> Path:
    path.write_text("".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in settings.items()))
    return path


def test_torchrun_entry_point_refuses_bad_config_in_one_line(tmp_path, capsys):
    config = _toml(tmp_path / "c.toml", TINY)
    assert (
        torchrun_main(
            [str(config), "--out", str(tmp_path / "run"), "--set", "lr=-1", "--no-progress"]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pgm_cli.torchrun: error: lr: expected a number > 0.0; found -1"], err
    assert not (tmp_path / "run").exists()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{ corrupted")
    assert torchrun_main(["--out", str(tmp_path / "run"), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "pgm_cli.torchrun: error: --resume: expected JSON in"
    ), err


def test_ctrl_c_during_start_up_imports_is_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    # what the `pgm` console script runs, with a line to say Python itself is up
    script = (
        "print('up', flush=True); import sys; sys.argv = ['pgm', 'list']; "
        "from pgm_cli.main import console; sys.exit(console())"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "up\n"
    time.sleep(0.05)  # torch is still importing
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the imports finished before the signal arrived")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines() == [
        "pgm: interrupted while starting; nothing was run or written"
    ], err


def test_ctrl_c_before_the_first_checkpoint_leaves_nothing(tmp_path, monkeypatch):
    from inference.trainer import Trainer

    run = tmp_path / "run"

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Trainer, "fit", interrupted)
        with pytest.raises(KeyboardInterrupt):
            train(TINY, run, progress=False)
    assert not run.exists()  # no config.json to block the same command again
    train(TINY, run, progress=False)
    assert (run / "model.safetensors").is_file()


def test_ctrl_c_during_compare_does_not_suggest_resume(tmp_path, monkeypatch, capsys):
    import evaluation.compare

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation.compare, "compare_runs", interrupted)
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "rep")]) == 130
    err = capsys.readouterr().err.strip()
    assert (
        err == "pgm compare: interrupted; the report folder holds the previous report "
        "(or none); run the command again"
    )


def test_ctrl_c_during_reproduce_says_its_checkpoints_are_kept(tmp_path, monkeypatch, capsys):
    import evaluation.reproduce

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation.reproduce, "reproduce", interrupted)
    assert main(["reproduce", "pixelcnn", "--out", str(tmp_path / "repro")]) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        "pgm reproduce: interrupted; rows' checkpoints written so far are intact (the same "
        "command with --resume continues them)"
    )


def test_resume_touches_only_pgms_own_temporaries(tmp_path):
    run = tmp_path / "run"
    train({**TINY, "epochs": 1}, run, progress=False)
    mine = [
        run / ".notes.tmp",
        run / "checkpoints" / ".draft.json.tmp",
        run / "checkpoints" / ".x.tmp",
    ]
    for path in mine:
        path.write_text("the user's")
    stale = run / "checkpoints" / ".epoch-00002.safetensors.abcd1234.tmp"
    stale.write_bytes(b"half")
    train({**TINY, "epochs": 2}, run, resume=True, progress=False)
    assert all(p.read_text() == "the user's" for p in mine)
    assert not stale.exists()


def test_available_memory_reads_the_address_space_limit(monkeypatch):
    import resource

    from pgm import memory

    monkeypatch.setattr(resource, "getrlimit", lambda which: (1 << 30, resource.RLIM_INFINITY))
    assert memory.available_memory() <= 1 << 30
    with pytest.raises(
        ValueError,
        match=r"^-n: expected a request that fits in memory; found x, needing about 2.0 GiB, "
        r"with .* available$",
    ):
        memory.check_fits(2 << 30, "-n", "x")


def test_estimator_folds_its_partial_sums(monkeypatch):
    """Memory flat in K: the per-chunk log-sum-exps are folded every _FOLD chunks; folding
    every 2 chunks gives the same estimate (seeded, float tolerance 1e-4 nats)."""
    ll = sys.modules["evaluation.log_likelihood"]  # the package exports a function of that name

    model = pgm.build({**TINY, "image_shape": [1, 8, 8], "num_levels": 17})
    x = torch.randint(0, 17, (3, 1, 8, 8)).float()
    torch.manual_seed(0)
    plain = ll.estimate(model, None, x, 64, max_elements=8).log_likelihood
    monkeypatch.setattr(ll, "_FOLD", 2)
    torch.manual_seed(0)
    folded = ll.estimate(model, None, x, 64, max_elements=8).log_likelihood
    assert torch.allclose(plain, folded, atol=1e-4), (plain, folded)


def test_sigterm_during_training_says_what_was_kept_and_resume_continues(tmp_path):
    """SIGTERM (a scheduler's stop) gets the Ctrl-C line, as "terminated", and status 143;
    the checkpoints written so far are whole and ``--resume`` continues from them."""
    config = _toml(tmp_path / "c.toml", {**TINY, "epochs": 100_000})
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pgm_cli", "train", "--no-progress", "--out", str(run)]
    proc = subprocess.Popen(
        [*command, str(config)], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while (
        not (run / "metrics.jsonl").is_file()
        or len((run / "metrics.jsonl").read_text().splitlines()) < 2
    ):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == (
        "pgm train: terminated (SIGTERM); checkpoints written so far, if any, are intact "
        "(pgm train --out RUN --resume continues)"
    ), err
    assert "Traceback" not in err
    epochs = len((run / "metrics.jsonl").read_text().splitlines())
    assert not [p.name for p in run.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    # the run continues where it stopped: one more epoch, then stopped again
    resumed = subprocess.Popen(
        [*command, "--resume"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while len((run / "metrics.jsonl").read_text().splitlines()) <= epochs:
        assert resumed.poll() is None and time.monotonic() < deadline, resumed.stderr.read()
        time.sleep(0.05)
    resumed.send_signal(signal.SIGTERM)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 128 + signal.SIGTERM, err
    lines = (run / "metrics.jsonl").read_text().splitlines()
    import json

    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, len(lines) + 1))


def _command_that(monkeypatch, body):
    """``pgm list`` replaced by ``body`` (a command's work)."""
    import pgm_cli.commands.list as list_command

    monkeypatch.setattr(list_command, "run", lambda args: body() or 0)


def test_sigterm_landing_in_a_finaliser_still_ends_the_command(monkeypatch, capsys):
    """Python drops an exception raised in a ``__del__`` or weak-reference callback ("Exception
    ignored in ..."): a SIGTERM landing there had let the command run on and exit 0. It is
    raised again at once, outside the finaliser, and the command ends with status 143."""
    reached = []

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs here, inside the finaliser
                pass

    def work():
        Finalised()  # deleted at once
        for _ in range(200):
            time.sleep(0.01)
        reached.append("the end")  # never: the signal ends the work

    _command_that(monkeypatch, work)
    assert main(["list"]) == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert err.strip() == "pgm list: terminated (SIGTERM); nothing was written", err
    assert not reached and "Exception ignored" not in err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back after the command


def test_sigterm_swallowed_by_the_work_is_still_status_143(monkeypatch, capsys):
    """Work that catches the interrupt and finishes (a library's own ``except
    KeyboardInterrupt``) does not turn a SIGTERM into status 0."""

    def work():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:
            pass

    _command_that(monkeypatch, work)
    assert main(["list"]) == 128 + signal.SIGTERM
    assert capsys.readouterr().err.strip() == "pgm list: terminated (SIGTERM); nothing was written"


def test_a_burst_of_sigterms_is_one_stop_and_a_finished_command_keeps_its_status():
    """A burst of SIGTERMs raised again inside the first one's clean-up (a traceback from
    main's own ``finally``); after the command, the console script ignores SIGTERM while the
    interpreter tears down (up to a second with torch), so a finished command is not reported
    killed."""
    import types

    from pgm_cli.main import Terminated, _Termination

    termination = _Termination()
    try:
        with pytest.raises(Terminated):
            termination._raise(signal.SIGTERM, None)
        assert termination._raise(signal.SIGTERM, None) is None  # the burst's next: ignored
        # one swallowed by a finaliser is raised again (from another thread, a moment later)
        termination._unraisable(types.SimpleNamespace(exc_value=Terminated()))
        with pytest.raises(Terminated):
            time.sleep(5)
    finally:
        termination.restore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    script = (
        "import signal, sys; sys.argv = ['pgm', 'list']; from pgm_cli.main import console; "
        "code = console(); print(signal.getsignal(signal.SIGTERM) == signal.SIG_IGN); "
        "sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "True", done.stderr
