"""Atomic writes: a write interrupted or failing at any point leaves the old file whole and no
temporary behind; the new file follows the umask; a path-taking writer (matplotlib, xarray)
is served the same way."""

from __future__ import annotations

import os
import re

import pytest

from inference import atomic_write as aw


def test_a_write_interrupted_mid_file_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "state.bin"
    aw.atomic_write_bytes(path, b"old content")

    def die(name):
        if name == "write:state.bin":
            raise KeyboardInterrupt

    monkeypatch.setattr(aw, "kill_point", die)
    with pytest.raises(KeyboardInterrupt):
        aw.atomic_write_bytes(path, b"new content that never lands")
    assert path.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "report.md"
    aw.atomic_write_text(path, "old")
    seen = []

    def write(tmp):
        seen.append(tmp.name)
        tmp.write_text("half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        aw.atomic_write(path, write)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
    # the temporary it was given is the hidden name a caller can recognise and clear
    assert re.fullmatch(aw.temporary_pattern(re.escape("report.md")), seen[0]), seen


def test_files_follow_the_umask_and_folders_are_created(tmp_path):
    path = tmp_path / "new" / "folder" / "f.json"
    assert aw.atomic_write_text(path, "{}") == path
    mask = os.umask(0)
    os.umask(mask)
    assert path.read_text() == "{}"
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_path_taking_writer_such_as_savefig(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1])
    path = aw.atomic_write(tmp_path / "plot.png", lambda p: fig.savefig(p, format="png"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]


def test_a_device_or_fifo_is_never_replaced(tmp_path):
    """``pgm sample RUN --out /dev/null`` (as root) renamed a PNG over the device node itself:
    /dev/null became a regular file. A FIFO stands in for the device here."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileExistsError, match="found a FIFO: "):
        aw.atomic_write_bytes(fifo, b"png")
    assert fifo.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_sample_out_naming_a_device_or_fifo_is_refused_first(tmp_path):
    from inference.config import ConfigError
    from inference.out_path import check_file_out

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "stdout.png"
    os.symlink(fifo, link)  # as /dev/stdout is a link to a pipe or a tty
    for out in (fifo, link):
        with pytest.raises(ConfigError, match=r"^--out: expected a new file or a regular one"):
            check_file_out(out)
    assert check_file_out(tmp_path / "new.png") == tmp_path / "new.png"


def test_a_full_disk_is_named_with_its_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    """A full disk during a checkpoint ended `pgm train` with "[Errno 28] No space left on
    device", naming no file: the error names the file, the room left where it goes, and that
    the file it would replace is kept whole (no temporary left behind)."""
    import errno

    path = tmp_path / "epoch-00002.safetensors"
    path.write_bytes(b"old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(aw, "_write_all", full)
    with pytest.raises(OSError) as caught:
        aw.atomic_write_bytes(path, b"new" * 1000)
    assert caught.value.errno == errno.ENOSPC
    message = str(caught.value)
    assert f"no space left on the device to write {path} (" in message
    assert "MB free there); nothing was replaced" in message and "--resume" in message
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [path.name]
