"""One writer per run folder: an exclusive OS file lock on ``RUN/.pgm-lock`` (and one writer
per report folder, on ``.OUT.pgm-lock`` beside it).

The lock is ``fcntl.flock`` on an open file: the kernel releases it when the holder closes the
file or dies, so a SIGKILL never leaves a stale lock behind. The holder writes its pid into
the file after locking, so a second process is refused in one line that names the holder.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from .config import ConfigError

__all__ = ["LOCK_FILE", "RunLock", "RunLockedError"]

#: The lock file's exact name inside a run folder (pgm's own; never a user's file).
LOCK_FILE = ".pgm-lock"


class RunLockedError(ConfigError):
    """Another live process holds the run folder's lock."""


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


class RunLock:
    """An exclusive, non-blocking lock on ``folder`` (which must exist), held until
    :meth:`release` or the death of the process.

    ``created`` says whether this lock made the lock file (a failed new run removes it again,
    leaving the folder as it was found)."""

    def __init__(
        self,
        folder: str | Path,
        what: str = "--out",
        name: str = LOCK_FILE,
        guarded: tuple[str, str | Path] | None = None,
    ):
        """``name``: the lock file's name in ``folder``; ``guarded``: what the lock protects,
        as (a description, a path) for the refusal (default: ``("a run folder", folder)``)."""
        self.path = Path(folder) / name
        self._args = (folder, what, name, guarded)
        kind, shown = guarded or ("a run folder", folder)
        self.created = not self.path.exists()
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = self._holder()
            os.close(self._fd)
            self._fd = None
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise RunLockedError(
                f"{what}: expected {kind} no other process is writing; found {shown} "
                f"locked by another process ({holder}; wait for it to finish, or stop it)"
            ) from None
        if os.fstat(self._fd).st_ino != _inode(self.path):
            # the holder removed the file between our open and our lock: lock the new one
            os.close(self._fd)
            self.__init__(*self._args)
            return
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def _holder(self) -> str:
        try:
            text = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            text = ""
        return f"pid {text}" if text.isdigit() else "(pid not yet written)"

    def release(self, remove: bool = False) -> None:
        """Unlock; with ``remove`` delete the lock file first (only while still holding it)."""
        if self._fd is None:
            return
        if remove:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
