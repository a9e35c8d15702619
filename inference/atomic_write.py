"""Writing a file atomically: a kill or a failure at any moment leaves the old file or the new
one whole, never half of one.

The content goes to a hidden temporary file in the target's folder, ``.NAME.XXXXXXXX.tmp``
(``XXXXXXXX`` from :func:`tempfile.mkstemp`), which is fsynced and then renamed over ``NAME``
(``os.replace``); the folder is fsynced so that the rename itself survives a power cut. The
file gets the permissions of any other file (``0666`` less the umask). A write that fails
removes its temporary file; one a kill leaves behind matches :func:`temporary_pattern`, by
which a caller that knows its own file names can clear it.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from pgm.validation import what_is

from .kill_point import kill_point

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_folder",
    "temporary_pattern",
]


def temporary_pattern(name: str) -> str:
    """The regular expression the temporary files of a write of ``name`` match (``name`` is
    itself a regular expression: ``r"epoch-\\d+\\.safetensors"``)."""
    return rf"\.(?:{name})\.[a-z0-9_]{{8}}\.tmp"


def fsync_folder(folder: str | Path) -> None:
    """Flush a folder's entries (renames, new and removed files) to the disk."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace_with(path: Path, fill: Callable[[int, Path], object]) -> Path:
    """Create a temporary file beside ``path`` (``mkstemp``: ``O_CREAT | O_EXCL | O_NOFOLLOW``,
    so never an existing file or a link's target), ``fill(fd, tmp)`` it, fsync it and rename it
    over ``path``. ``os.replace`` replaces a symbolic link at ``path`` by the new file; the
    link's target is left as it was."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        # the rename would replace the node itself: `--out /dev/null` replaced the device
        raise FileExistsError(
            f"expected a regular file to replace, or a new one; found {what_is(path)}: {path} "
            "(not replaced)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        try:  # mkstemp creates files 0600; a shared run folder should read like any other file
            os.fchmod(fd, 0o666 & ~_umask())
            fill(fd, tmp)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.errno in _NO_SPACE:  # "[Errno 28] No space left on device", naming nothing
            raise _no_space(path, err) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


#: a full device, or a user's disk quota spent
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _no_space(path: Path, err: OSError) -> OSError:
    """The same error, saying which file could not be written, how much room is left where it
    goes, and that the file it would have replaced (if any) is kept whole."""
    try:
        free = f"{shutil.disk_usage(path.parent).free / 1e6:,.1f} MB free there"
    except OSError:
        free = "free space unknown"
    what = "no space left on the device" if err.errno == errno.ENOSPC else "disk quota exceeded"
    return OSError(
        err.errno,
        f"{what} to write {path} ({free}); nothing was replaced (the previous file, if any, is "
        "kept whole): free some space and run the command again (a run continues with "
        "--resume)",
    )


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to write the file's whole content to the path ``tmp`` (an empty
    file beside ``path``), then put it in ``path``'s place; returns ``path``. Serves writers
    that want a path, e.g. ``lambda p: fig.savefig(p, format="png")`` or
    ``lambda p: idata.to_netcdf(p)`` (``tmp`` ends in ``.tmp``: name the format). ``path``'s
    folder is created."""

    def fill(fd: int, tmp: Path) -> None:
        write(tmp)
        os.fsync(fd)  # a writer that replaced the file by name: its content is synced below
        synced = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            os.fsync(synced)
        finally:
            os.close(synced)

    return _replace_with(Path(path), fill)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`), through the temporary
    file's own descriptor (never reopened by name)."""
    path = Path(path)

    def fill(fd: int, tmp: Path) -> None:
        half = len(data) // 2
        _write_all(fd, data[:half])
        kill_point(f"write:{path.name}")  # tests: die with the temporary file half written
        _write_all(fd, data[half:])

    return _replace_with(path, fill)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8, atomically (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
