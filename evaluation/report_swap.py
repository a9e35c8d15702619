"""Writing a report so that a kill at any moment leaves the old complete report or the new
complete one: the files go into a fresh temporary folder, which then replaces the old report.

- ``OUT`` absent, or holding only a report's own entries (:data:`REPORT_ENTRIES`): the new
  report is built in ``.OUT.pgm-new-PID`` beside ``OUT`` and exchanged with ``OUT`` in one
  ``renameat2(RENAME_EXCHANGE)`` (Linux), then the old one is removed. Where the exchange is
  not available: ``OUT`` is renamed to ``.OUT.pgm-old-PID``, the new folder to ``OUT``, the old
  one removed; a kill between the two renames leaves both complete reports under those names.
- ``OUT`` holding other files too (``pgm suite``'s ``runs/``, a user's files): the new report
  is built in ``OUT/.pgm-report-new-PID`` and its entries moved in one by one, with the marker
  ``OUT/REPORT-INCOMPLETE`` present from before the first old entry is removed until after the
  last new one is in place (``results.json`` moved last). Only the report's own entries are
  replaced, by exact name; nothing else in ``OUT`` is touched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from inference.atomic_write import atomic_write_text, fsync_folder
from inference.config import ConfigError
from inference.kill_point import kill_point
from inference.out_path import (
    check_out_path,
    make_folders,
    os_error_text,
    remove_created,
    what_is,
)
from inference.run_lock import RunLock

__all__ = [
    "INCOMPLETE_MARKER",
    "REPORT_ENTRIES",
    "check_report_folder",
    "report_lock",
    "write_report",
]

#: The entries a report consists of: the only names in OUT that a new report replaces.
REPORT_ENTRIES = (
    "figures",
    "idata.nc",
    "report.md",
    "report.html",
    "tables.tex",
    "results.json",
)
INCOMPLETE_MARKER = "REPORT-INCOMPLETE"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` atomically (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    return False


def _is_pure_report(out: Path) -> bool:
    own = set(REPORT_ENTRIES) | {INCOMPLETE_MARKER}
    return all(
        p.name in own or p.name.startswith(".") and p.name.endswith(".tmp") for p in out.iterdir()
    )


def check_report_folder(out: Path) -> None:
    """Refuse, before anything is computed or created, an ``--out`` that cannot hold a report."""
    check_out_path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(
            f"--out: expected a folder for the report; found {what_is(out)}: {out}"
        )
    parent = out if out.is_dir() else next((p for p in out.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise NotADirectoryError(
            f"--out: expected a folder that can be created; found {parent} is a file"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(
            f"--out: expected a folder that can be created and written; found {parent} not writable"
        )


@contextmanager
def report_lock(out: Path) -> Iterator[None]:
    """One writer per report folder: an exclusive lock on ``.OUT.pgm-lock`` beside ``out``
    (inside it, the lock would be swapped away with the old report), held for the whole
    command, so a second command writing the same ``--out`` is refused at once, in one line
    naming the holder, instead of silently replacing the first one's report. Parents of
    ``out`` created for the lock file are removed again if the command writes nothing."""
    created: list[Path] = []
    try:
        make_folders(out.parent, created)
        lock = RunLock(
            out.parent, "--out", name=f".{out.name}.pgm-lock", guarded=("a report folder", out)
        )
    except ConfigError:
        remove_created(created)
        raise
    except OSError as err:  # was "[Errno 13] Permission denied: '/sys/.x.pgm-lock'"
        remove_created(created)
        raise ConfigError(
            f"--out: expected a folder that can be created and written; found {out} refused "
            f"({os_error_text(err)})"
        ) from None
    except BaseException:
        remove_created(created)
        raise
    try:
        yield
    finally:
        lock.release(remove=True)
        remove_created(created)


def _remove_stale(out: Path) -> None:
    """Temporary folders of earlier reports whose process is gone (killed mid-write)."""
    for pattern, folder in ((f".{out.name}.pgm-*-*", out.parent), (".pgm-report-new-*", out)):
        if not folder.is_dir():
            continue
        for p in folder.glob(pattern):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_report(out: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(folder)`` to write every report entry into a fresh folder, then put the
    new report in ``out``'s place (see the module's docstring); ``out``'s parents are created."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    pure = not out.exists() or _is_pure_report(out)
    new = (
        (out.parent / f".{out.name}.pgm-new-{os.getpid()}")
        if pure
        else (out / f".pgm-report-new-{os.getpid()}")
    )
    if new.exists():
        shutil.rmtree(new)
    new.mkdir()
    try:
        write(new)
        fsync_folder(new)
        kill_point("report:before-swap")
        if pure:
            _swap_folder(new, out)
        else:
            _swap_entries(new, out)
    finally:
        if new.exists():
            shutil.rmtree(new, ignore_errors=True)


def _swap_folder(new: Path, out: Path) -> None:
    if not out.exists():
        new.rename(out)
    elif _exchange(new, out):
        kill_point("report:after-swap")
        shutil.rmtree(new)  # now the old report
    else:
        old = out.parent / f".{out.name}.pgm-old-{os.getpid()}"
        out.rename(old)
        kill_point("report:between-renames")
        new.rename(out)
        shutil.rmtree(old)
    fsync_folder(out.parent)


def _swap_entries(new: Path, out: Path) -> None:
    marker = out / INCOMPLETE_MARKER
    atomic_write_text(  # g-files: atomically, never through a link at the marker's name
        marker,
        "pgm was replacing the report in this folder and stopped before the end: the report "
        "files here may be a mix of two reports. Run the command again.\n",
    )
    entries = sorted((p.name for p in new.iterdir()), key=lambda n: n == "results.json")
    (out / "results.json").unlink(missing_ok=True)  # first out, last in
    for name in entries:
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        (new / name).rename(target)
        kill_point(f"report:moved:{name}")
    fsync_folder(out)
    marker.unlink()
    fsync_folder(out)
