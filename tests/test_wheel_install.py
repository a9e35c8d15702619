"""An installed wheel carries the recipes and the example configs: built from the sources,
installed on its own (no checkout on the path, run from another folder), ``pgm reproduce
--list`` lists every row and ``pgm train`` trains a shipped example named by its name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: what the wheel is built from (pyproject's packages, and the README it names)
SOURCES = ("pgm", "pgm_cli", "inference", "evaluation", "pyproject.toml", "README.md")


def _pgm(site: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    env.pop("PGM_DATA_DIR", None)
    code = "import sys; from pgm_cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(site folder the wheel is installed into, an empty working folder)."""
    pytest.importorskip("setuptools")  # the build backend, used without build isolation
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", str(src), "-w"]
    subprocess.run([*build, str(root / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (root / "dist").glob("pgm-*.whl")
    site = root / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    work = root / "elsewhere"
    work.mkdir()
    return site, work


def test_reproduce_list_from_the_wheel_lists_every_row(installed):
    from evaluation.reproduce import ROWS

    site, work = installed
    done = _pgm(site, work, "reproduce", "--list")
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()]
    assert listed == list(ROWS)
    # the wheel's own code answered, not the checkout's
    where = _pgm(site, work, "list", "--json")
    assert where.returncode == 0, where.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import evaluation; print(evaluation.__file__)"],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(site))


def test_train_a_shipped_example_by_name_from_the_wheel(installed):
    site, work = installed
    done = _pgm(site, work, "train", "vae-digits", "--out", "run", "--set", "epochs=1", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["epochs"] == 1
    assert json.loads((work / "run" / "config.json").read_text())["data"] == "digits"
