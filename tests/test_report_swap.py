"""A SIGKILL at any moment of ``pgm compare`` into an existing report folder leaves the old
complete report or the new complete one (plus at most a clearly-named temporary folder, which
the next run clears); a folder that holds other files too (``pgm suite``'s ``runs/``) keeps
them and is marked ``REPORT-INCOMPLETE`` while its report entries are being replaced."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
from forking_cli import ForkingCLI
from tiny_run import TINY_RUN

from evaluation.report_swap import INCOMPLETE_MARKER
from inference import train
from pgm_cli.main import main

REPO = Path(__file__).resolve().parents[1]
TINY = TINY_RUN


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _report_state(out: Path, old: dict[str, str], new_seed: int) -> str:
    """'old' when ``out`` is byte for byte the old report, 'new' when it is a complete report
    of the new command; fails otherwise."""
    files = _hashes(out)
    if files == old:
        return "old"
    results = json.loads((out / "results.json").read_text())
    assert results["method"]["seed"] == new_seed, "neither the old report nor the new one"
    listed = {f"{f}" for f in [*results["figures"], *results.get("vector_figures", [])]} | {
        "results.json",
        "report.md",
        "report.html",
        "tables.tex",
        "idata.nc",
    }
    assert set(files) == listed, set(files) ^ listed
    assert f"seeded with {new_seed}" in (out / "report.md").read_text()
    return "new"


def _compare(run: Path, out: Path, seed: int) -> list[str]:
    return [
        "compare",
        str(run),
        "--out",
        str(out),
        "-k",
        "2",
        "--num-images",
        "40",
        "--curve-images",
        "0",
        "--seed",
        str(seed),
        "--no-progress",
        "--split",
        "valid",
    ]


@pytest.mark.slow
def test_compare_killed_at_any_moment_leaves_the_old_or_the_new_report(tmp_path):
    run, out = tmp_path / "run", tmp_path / "out"
    train(TINY, run, progress=False)
    assert main(_compare(run, out, 0)) == 0
    old = _hashes(out)
    cli = ForkingCLI(
        "import pgm_cli.main, evaluation.compare, arviz, sklearn.linear_model, matplotlib.pyplot"
    )
    killed = -signal.SIGKILL
    states = []
    try:
        started = time.monotonic()
        assert cli.run(_compare(run, tmp_path / "timing", 1)) == 0
        duration = time.monotonic() - started
        for point in [
            "write:forest.png",
            "write:results.json",
            "write:report.html",
            "report:before-swap",
            "report:after-swap",
        ]:
            assert cli.run(_compare(run, out, 1), point) == killed, point
            states.append((point, _report_state(out, old, 1)))
            # the killed command's lock file stays (the kernel released its lock; the next
            # command takes it over and removes it), and at most its temporary report
            strays = [
                p.name
                for p in tmp_path.iterdir()
                if p.name.startswith(".out.pgm-") and p.name != ".out.pgm-lock"
            ]
            assert len(strays) <= 1 and all(".pgm-new-" in s for s in strays), strays
        for delay in random.Random(7).sample([duration * f for f in (0.3, 0.6, 0.8, 0.9, 0.95)], 2):
            pid = cli.start(_compare(run, out, 1))
            time.sleep(delay)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            assert cli.wait() in (killed, 0)
            states.append((f"after {delay:.2f} s", _report_state(out, old, 1)))
        assert cli.run(_compare(run, out, 1)) == 0
    finally:
        cli.close()
    assert [s for _, s in states[:4]] == ["old"] * 4 and states[4][1] == "new", states
    assert _report_state(out, old, 1) == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "run", "timing"]  # strays cleared


def test_report_in_a_folder_with_other_files_keeps_them_and_is_marked_while_replaced(tmp_path):
    run, out = tmp_path / "run", tmp_path / "suite"
    train(TINY, run, progress=False)
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "keep.txt").write_text("a run lives here")
    assert main(_compare(run, out, 0)) == 0
    assert (out / "runs" / "keep.txt").read_text() == "a run lives here"
    cli = ForkingCLI(
        "import pgm_cli.main, evaluation.compare, arviz, sklearn.linear_model, matplotlib.pyplot"
    )
    try:
        assert cli.run(_compare(run, out, 1), "report:moved:figures") == -signal.SIGKILL
        assert (out / INCOMPLETE_MARKER).exists() and not (out / "results.json").exists()
        assert cli.run(_compare(run, out, 1)) == 0
    finally:
        cli.close()
    assert not (out / INCOMPLETE_MARKER).exists()
    assert json.loads((out / "results.json").read_text())["method"]["seed"] == 1
    assert (out / "runs" / "keep.txt").read_text() == "a run lives here"
    assert not [p for p in out.iterdir() if p.name.startswith(".pgm-report-new-")]


def test_compare_checks_its_inputs_before_creating_anything(tmp_path, capsys):
    run = tmp_path / "run"
    train(TINY, run, progress=False)
    for argv in (
        ["compare", str(tmp_path / "missing"), "--out", str(tmp_path / "o1")],
        ["compare", str(run), "--out", str(tmp_path / "o2"), "--curve-images", "-3"],
        ["compare", str(run), "--out", str(tmp_path / "o3"), "--alpha", "2"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_report_lock_that_cannot_be_made_is_one_line_naming_out(tmp_path, monkeypatch):
    """``pgm compare --out /sys/x`` said "[Errno 13] Permission denied: '/sys/.x.pgm-lock'"."""
    from evaluation import report_swap
    from inference.config import ConfigError

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(report_swap, "RunLock", refused)
    out = tmp_path / "new" / "rep"
    with pytest.raises(ConfigError, match=r"^--out: expected a folder that can be created .*"):
        with report_swap.report_lock(out):
            pass
    assert not (tmp_path / "new").exists()
