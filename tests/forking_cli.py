"""``pgm`` commands run in forked children of one long-lived process that has imported the CLI
once: each child is ``python -m pgm_cli ARGV`` without the seconds of imports, and is
killed for real at a kill point (``PGM_TEST_KILL_AT``, :mod:`inference.kill_point`). Nothing
runs in the parent before a fork (no thread pools), so a child computes as a fresh process
does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from inference.kill_point import KILL_AT_ENV

__all__ = ["ForkingCLI", "cli_env"]

REPO = Path(__file__).resolve().parents[1]

_SERVER = r"""
import json, os, sys
{preload}
for line in sys.stdin:
    command = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.dup2(2, 1)  # the child's own output must not mix with this protocol
            os.environ.pop("PGM_TEST_KILL_AT", None)
            os.environ.update(command["env"])
            code = pgm_cli.main.main(command["argv"])
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(json.dumps({{"pid": pid}}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({{"status": os.waitstatus_to_exitcode(status)}}), flush=True)
"""


def cli_env(kill_at: str | None = None) -> dict[str, str]:
    """This process's environment for a ``pgm`` process, killed at ``kill_at`` if given.

    One thread in every process: these tiny models gain nothing from more, OpenMP's spinning
    threads slow a loaded 2-core machine several times over, and the same setting everywhere
    keeps a reference run's and a resumed run's arithmetic identical."""
    env = {k: v for k, v in os.environ.items() if k != KILL_AT_ENV}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO))
    if kill_at:
        env[KILL_AT_ENV] = kill_at
    return env


class ForkingCLI:
    """Runs ``pgm`` commands in forked children of one process that first runs ``preload``
    (import statements: what the commands import, ``pgm_cli.main`` among them)."""

    def __init__(self, preload: str = "import pgm_cli.main"):
        self._stderr = tempfile.TemporaryFile("w+")  # a file, not a pipe: it never fills up
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER.format(preload=preload)],
            cwd=REPO,
            env=cli_env(),
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )

    def start(self, argv: list[str], kill_at: str | None = None) -> int:
        """Start ``pgm ARGV`` (killed at ``kill_at``); returns the child's pid."""
        env = {KILL_AT_ENV: kill_at} if kill_at else {}
        self.proc.stdin.write(json.dumps({"argv": argv, "env": env}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._line())["pid"]

    def wait(self) -> int:
        """The exit status of the command started last (``-signal.SIGKILL`` when killed)."""
        return json.loads(self._line())["status"]

    def run(self, argv: list[str], kill_at: str | None = None) -> int:
        self.start(argv, kill_at)
        return self.wait()

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        assert line, self._errors()
        return line

    def _errors(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()

    def close(self) -> str:
        """End the parent (closing its stdin ends its loop); returns what it and its children
        wrote to stderr."""
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        err = self._errors()
        self._stderr.close()
        return err
