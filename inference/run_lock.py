"""One writer per run folder: an exclusive OS file lock on ``RUN/.pgm-lock`` (and one writer
per report folder, on ``.OUT.pgm-lock`` beside it).

The lock file is created exclusively and never followed through a symbolic link (a link is
refused). The lock is ``fcntl.flock`` on an open file: the kernel releases it when the holder
closes the file or dies, so a SIGKILL never leaves a stale lock behind. The holder writes its
pid into
the file after locking, so a second process is refused in one line that names the holder.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

from .config import ConfigError

__all__ = ["LOCK_FILE", "RunLock", "RunLockedError", "lock_holder"]

#: The lock file's exact name inside a run folder (pgm's own; never a user's file).
LOCK_FILE = ".pgm-lock"


class RunLockedError(ConfigError):
    """Another live process holds the run folder's lock."""


def _inode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_ino
    except FileNotFoundError:
        return None


def _open_lock_file(path: Path, what: str) -> tuple[bool, int]:
    """``(created, fd)``: the lock file created exclusively, else the existing one opened;
    neither follows a symbolic link (``O_NOFOLLOW``), so a lock path that is a link to another
    file never truncates or writes that file: it is refused in one line."""
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    while True:
        try:
            return True, os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pass
        try:
            fd = os.open(path, flags | os.O_NONBLOCK)
        except FileNotFoundError:
            continue  # the holder removed it between our two opens: create it again
        except OSError as err:
            if err.errno == errno.EISDIR:  # was: "[Errno 21] Is a directory", naming nothing
                raise ConfigError(
                    f"{what}: expected the lock file {path} to be pgm's own regular file; found "
                    "a folder (remove it if you trust this folder)"
                ) from None
            if err.errno != errno.ELOOP:
                raise
            raise ConfigError(
                f"{what}: expected the lock file {path} to be pgm's own regular file; found a "
                "symbolic link (not followed; remove it if you trust this folder)"
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ConfigError(
                f"{what}: expected the lock file {path} to be pgm's own regular file; found "
                "something else there (remove it if you trust this folder)"
            )
        os.set_blocking(fd, True)
        return False, fd


def lock_holder(folder: str | Path, name: str = LOCK_FILE) -> int | None:
    """The pid of the process holding ``folder``'s lock now (a run being trained), read from
    the kernel's table of locks (``/proc/locks``) without opening the lock file, so asking
    never takes the lock, not even for a moment; ``None`` when no process holds it, when there
    is no lock file, or where the table cannot be read (not Linux)."""
    try:
        st = os.lstat(Path(folder) / name)
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    # "1: FLOCK  ADVISORY  WRITE 18106 fe:00:16040355 0 EOF": major and minor in hex, the
    # inode in decimal; a line with "->" is a process waiting for the lock, not holding it
    wanted = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "WRITE":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            found = (int(major, 16), int(minor, 16), int(inode))
            pid = int(fields[4])
        except ValueError:
            continue
        if found == wanted:
            return pid
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
        self.created, self._fd = _open_lock_file(self.path, what)
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
