"""``pgm data fetch``: against a server on the loopback address serving small files of the
same format (their sha256 put in place of the published ones), every outcome either writes the
whole ``.npz`` pgm reads or leaves the data folder exactly as it was."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import gzip
import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from inference import data_fetch
from pgm.data import load_binarized_mnist, load_mnist
from pgm_cli.main import main

SPLITS = ("train", "valid", "test")


def amat_bytes(images: np.ndarray) -> bytes:
    """Larochelle's layout: one image a line, 784 values separated by single spaces."""
    return b"".join(b" ".join(b"%d" % v for v in row) + b"\n" for row in images)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves its folder; under /short/ it promises the whole file and sends half of it; under
    /stall/ it sends half and then nothing until the server's ``release`` event (``sent`` is
    set once the half is out); under /drip/ it sends 10 bytes, then one byte every 0.3 s; under
    /reason/ it answers 418 with the server's ``reason`` as the reason phrase."""

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        if self.path.startswith("/reason/"):
            self.send_response(418, self.server.reason)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith(("/stall/", "/drip/")):
            body = (Path(self.directory) / self.path.rsplit("/", 1)[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if self.path.startswith("/stall/"):
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.server.sent.set()
                    self.server.release.wait(30)
                else:
                    self.wfile.write(body[:10])
                    for i in range(10, len(body)):
                        self.wfile.flush()
                        if self.server.release.wait(0.3):
                            break
                        self.wfile.write(body[i : i + 1])
            except OSError:
                pass  # the client gave up
            self.close_connection = True
            return
        if self.path.startswith("/short/"):
            body = (Path(self.directory) / self.path.rsplit("/", 1)[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def httpd(tmp_path):
    """A loopback HTTP server over ``tmp_path/served`` (its ``url``; ``sent`` and ``release``:
    the events of /stall/, and ``reason``, /reason/'s; see :class:`_Handler`)."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Handler, directory=str(served))
    )
    httpd.daemon_threads = True
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.sent, httpd.release = threading.Event(), threading.Event()
    httpd.reason = "I'm a teapot"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(httpd, tmp_path):
    """The loopback server's (url, folder)."""
    return httpd.url, tmp_path / "served"


@pytest.fixture
def amat(server, monkeypatch):
    """Three small .amat files (5, 3, 2 images; seed 0) served, their sha256 injected in place
    of the published table; yields (url, data folder, arrays)."""
    url, served = server
    rng = np.random.default_rng(0)
    arrays = {
        s: rng.integers(0, 2, (n, 784), dtype=np.uint8)
        for s, n in zip(SPLITS, (5, 3, 2), strict=True)
    }
    table = {}
    for split, images in arrays.items():
        raw = amat_bytes(images)
        (served / f"binarized_mnist_{split}.amat").write_bytes(raw)
        table[split] = hashlib.sha256(raw).hexdigest()
    monkeypatch.setattr(data_fetch, "AMAT_SHA256", table)
    data_dir = served.parent / "data"
    return url, data_dir, arrays


def _fetch(url: str, data_dir: Path, *extra: str) -> int:
    return main(
        ["data", "fetch", "binarized-mnist", "--data-dir", str(data_dir), "--mirror", url, *extra]
    )


def _left(data_dir: Path) -> list[Path]:
    """What a failed fetch left: the data folder it created is removed again."""
    return list(data_dir.iterdir()) if data_dir.exists() else []


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1]


def test_fetch_converts_amat_to_the_npz_pgm_reads(amat, capsys):
    url, data_dir, arrays = amat
    assert _fetch(url, data_dir) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(data_dir / "binarized_mnist.npz")
    for split in SPLITS:
        ds = load_binarized_mnist(split, data_dir)
        assert ds.images.shape == (len(arrays[split]), 1, 28, 28)
        assert np.array_equal(ds.images.flatten(1).numpy(), arrays[split])
    assert sorted(p.name for p in data_dir.iterdir()) == ["binarized_mnist.npz"]


def test_bad_checksum_refused_in_one_line_and_nothing_left(amat, capsys, monkeypatch):
    url, data_dir, _ = amat
    monkeypatch.setitem(data_fetch.AMAT_SHA256, "valid", "0" * 64)
    assert _fetch(url, data_dir) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pgm data fetch: error: expected binarized_mnist_valid.amat")
    assert "sha256 " + "0" * 64 in err[-1] and "nothing was written" in err[-1]
    assert _left(data_dir) == []


def test_server_404_is_one_line_and_nothing_left(amat, capsys):
    """It was ``pgm data: error: data fetch: expected URL to serve NAME; found HTTP 404 File not
    found (--mirror ...)``: the command misnamed, and not a word of what was written."""
    url, data_dir, _ = amat
    assert _fetch(url + "missing/", data_dir) == 2
    assert _error_line(capsys) == (
        f"pgm data fetch: error: expected the file at {url}missing/binarized_mnist_train.amat; "
        "found HTTP 404 File not found; nothing was written (--mirror URL fetches from another "
        "server)"
    )
    assert _left(data_dir) == []


def _closed_port() -> int:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_one_line(tmp_path, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/"
    data_dir = tmp_path / "data"
    assert _fetch(url, data_dir) == 2
    line = _error_line(capsys)
    assert line.startswith(
        f"pgm data fetch: error: expected the file at {url}binarized_mnist_train.amat; found it "
        "cut short or unreachable (URLError: "
    )
    assert line.endswith("); nothing was written (--mirror URL fetches from another server)")
    assert _left(data_dir) == []


# torchvision drops urllib's HTTPError of the 404 unclosed; its socket, in a reference cycle,
# is closed by the collection at the end of the test, with a ResourceWarning
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_failed_mnist_download_names_the_file_and_what_came_back(server, capsys):
    """torchvision's failure read ``pgm data: error: data fetch: expected torchvision to download
    MNIST from URL; found Error downloading train-images-idx3-ubyte.gz:; nothing was written``:
    the status or the connection error was on the lines left out."""
    url, served = server
    data_dir = served.parent / "data"
    file = "train-images-idx3-ubyte.gz"
    closed = f"http://127.0.0.1:{_closed_port()}/"
    for mirror, found in ((url, "HTTP 404 File not found"), (closed, "no connection (")):
        argv = ["data", "fetch", "mnist", "--data-dir", str(data_dir), "--mirror", mirror]
        assert main(argv) == 2
        line = _error_line(capsys)
        assert line.startswith(
            f"pgm data fetch: error: expected the file at {mirror}{file}; found {found}"
        ), line
        assert line.endswith("; nothing was written (--mirror URL fetches from another server)")
        assert ":;" not in line and "Error downloading" not in line
        assert _left(data_dir) == []
    gc.collect()


def test_download_cut_short_leaves_nothing(amat, capsys):
    url, data_dir, _ = amat
    assert _fetch(url + "short/", data_dir) == 2
    assert "cut short or unreachable (IncompleteRead" in _error_line(capsys)
    assert _left(data_dir) == []


def test_a_failed_fetch_removes_the_folders_it_made(amat, capsys):
    url, data_dir, _ = amat
    deep = data_dir / "new" / "deeper"
    assert _fetch(url + "missing/", deep) == 2
    assert not (data_dir / "new").exists()  # was: new/deeper/ left behind, empty


class _Endless(http.server.BaseHTTPRequestHandler):
    """Serves an endless stream of '0 ' with no Content-Length."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"0 " * 65536)
        except OSError:
            pass


def test_a_mirror_serving_an_endless_stream_is_cut_off(tmp_path, capsys, monkeypatch):
    """Such a mirror wrote 14 GB into the data folder in 25 s (no size limit)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setitem(data_fetch.AMAT_BYTES, "train", 1 << 20)
    try:
        data_dir = tmp_path / "data"
        assert _fetch(f"http://127.0.0.1:{httpd.server_address[1]}/", data_dir) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "expected at most 1,048,576 bytes from" in _error_line(capsys)
    assert not data_dir.exists()


def test_existing_file_kept_unless_force(amat, capsys):
    url, data_dir, arrays = amat
    data_dir.mkdir()
    target = data_dir / "binarized_mnist.npz"
    target.write_bytes(b"the user's own file")
    assert _fetch(url, data_dir) == 0
    assert "kept the existing" in capsys.readouterr().err
    assert target.read_bytes() == b"the user's own file"
    assert _fetch(url, data_dir, "--force") == 0
    assert np.array_equal(load_binarized_mnist("test", data_dir).images.flatten(1), arrays["test"])


def test_a_file_of_another_layout_is_refused(amat, capsys, monkeypatch):
    url, data_dir, _ = amat
    served = data_dir.parent / "served" / "binarized_mnist_train.amat"
    raw = served.read_bytes().replace(b" ", b",", 3)
    served.write_bytes(raw)
    monkeypatch.setitem(data_fetch.AMAT_SHA256, "train", hashlib.sha256(raw).hexdigest())
    assert _fetch(url, data_dir) == 2
    assert "expected binarized_mnist_train.amat to hold lines of 784" in _error_line(capsys)
    assert _left(data_dir) == []


def test_missing_data_error_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="pgm data fetch binarized-mnist --data-dir"):
        load_binarized_mnist("train", tmp_path)


def test_published_checksums_match_the_development_data(shared_data):
    """The train/valid sha256 (TensorFlow Datasets' record) are those of the .amat text
    rebuilt from the independently sourced development .npz."""
    with np.load(shared_data / "binarized_mnist.npz") as f:
        for split in ("train", "valid"):
            raw = amat_bytes_fast(f[split])
            assert hashlib.sha256(raw).hexdigest() == data_fetch.AMAT_SHA256[split]
            assert np.array_equal(data_fetch.parse_amat(raw, split), f[split])


def amat_bytes_fast(images: np.ndarray) -> bytes:
    text = np.full((images.shape[0], 2 * 784), ord(" "), np.uint8)
    text[:, 0::2] = images + ord("0")
    text[:, -1] = ord("\n")
    return text.tobytes()


def _idx(array: np.ndarray) -> bytes:
    magic = 0x0800 + array.ndim  # unsigned bytes, then the number of dimensions
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.tobytes(), mtime=0)


#: torchvision's file of each MNIST array
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


@pytest.fixture
def mnist(server, monkeypatch):
    """Four small MNIST files (4 training images, 3 test images; seed 1) served, their md5 put in
    torchvision's table and their arrays' sha256 in pgm's; yields (url, served folder, data
    folder, arrays, the sha256 table)."""
    from torchvision.datasets import MNIST

    url, served = server
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 4, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    resources = []
    for key, name in MNIST_FILES.items():
        raw = _idx(arrays[key])
        (served / name).write_bytes(raw)
        resources.append((name, hashlib.md5(raw).hexdigest()))
    monkeypatch.setattr(MNIST, "resources", resources)
    table = {k: hashlib.sha256(a.tobytes()).hexdigest() for k, a in arrays.items()}
    monkeypatch.setattr(data_fetch, "MNIST_SHA256", table)
    return url, served, served.parent / "data", arrays, table


def _fetch_mnist(mirror: str, data_dir: Path) -> int:
    return main(["data", "fetch", "mnist", "--data-dir", str(data_dir), "--mirror", mirror])


def test_mnist_through_torchvision_from_a_mirror(mnist, monkeypatch, capsys):
    url, served, data_dir, arrays, table = mnist
    assert _fetch_mnist(url, data_dir) == 0
    err = capsys.readouterr().err
    assert "%|" not in err and "\r" not in err  # torchvision's progress bar is not shown
    assert f"pgm data fetch: downloading {url}t10k-labels-idx1-ubyte.gz" in err.splitlines()
    test = load_mnist("test", data_dir)
    assert np.array_equal(test.images.squeeze(1).numpy(), arrays["x_test"])
    assert np.array_equal(test.labels.numpy(), arrays["y_test"])
    assert sorted(p.name for p in data_dir.iterdir()) == ["mnist.npz"]
    # a wrong array checksum: refused, nothing left
    capsys.readouterr()
    monkeypatch.setitem(table, "y_test", "f" * 64)
    (data_dir / "mnist.npz").unlink()
    assert main(["data", "fetch", "mnist", "--data-dir", str(data_dir), "--mirror", url]) == 2
    assert "expected MNIST y_test (3,) with sha256 " + "f" * 64 in _error_line(capsys)
    assert _left(data_dir) == []


def test_the_command_line_offers_every_fetchable_dataset():
    from pgm_cli.commands.data import DATASET_NAMES

    assert set(DATASET_NAMES) == set(data_fetch.DATASETS)


@pytest.mark.parametrize(
    "mirror",
    [
        "ftp://host/folder/",
        "garbage url",
        "http://",
        "http://[::1",  # urlsplit's ValueError was a traceback
        "http://host/?",  # the file names appended to a query or fragment name no file
        "http://host/folder?x=1",
        "http://host/#part",
        "http://host/a\n/",  # an error line broken in two
        "file:wrong",  # no //: a relative path, though the message asks for file://
        "file:/abs/folder/",
        "file://host/folder/",  # another machine (or a relative path taken for a host)
        "file://",
        "http:host/",
        "http:///folder/",  # no host
        "http://host:port/",  # a port that is no number
        "http://host:99999/",
    ],
)
def test_a_mirror_that_is_no_http_https_or_file_url_is_refused_first(tmp_path, capsys, mirror):
    data_dir = tmp_path / "new" / "data"
    assert _fetch(mirror, data_dir) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--mirror: expected" in err[0] and repr(mirror) in err[0]
    assert err[0].endswith("; nothing was written")
    assert not (tmp_path / "new").exists()  # refused before any folder is made


# -- a killed fetch's leftovers, two fetches at once, a dripping server --------------------------

#: What a killed fetch leaves (each of pgm's temporary names) and what a user keeps beside it.
STALE = (".binarized_mnist_train.amat.ab12cd34.tmp", ".binarized_mnist.npz.x_9y8z7w.tmp")
USER = (".notes.tmp", "notes.txt", ".binarized_mnist_train.amat.tmp", ".mnist.notes")


def _hold_lock(folder: Path) -> int:
    """Take the folder's fetch lock as another process would (closing the fd releases it)."""
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_fetch_removes_what_a_killed_fetch_left_and_nothing_else(amat, capsys):
    url, data_dir, _ = amat
    data_dir.mkdir()
    for name in STALE + USER:
        (data_dir / name).write_text("x")
    (data_dir / ".mnist.k3j4h5g6" / "MNIST" / "raw").mkdir(parents=True)  # torchvision's folder
    (data_dir / ".mnist.k3j4h5g6" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").write_text("x")
    assert _fetch(url, data_dir) == 0
    assert _names(data_dir) == sorted(("binarized_mnist.npz", *USER))
    err = capsys.readouterr().err.splitlines()
    removed = [line for line in err if "removed 3 temporaries" in line]
    assert len(removed) == 1 and all(name in removed[0] for name in STALE)


def test_a_users_folder_named_like_torchvisions_temporary_stays(amat, capsys):
    """``.mnist.`` and eight letters is also a user's name: only a folder holding what
    torchvision writes (MNIST/raw) is a killed fetch's; the user's notes were removed."""
    url, data_dir, _ = amat
    (data_dir / ".mnist.raw_data" / "MINE").mkdir(parents=True)
    (data_dir / ".mnist.raw_data" / "MINE" / "notes.txt").write_text("mine")
    (data_dir / ".mnist.backup01" / "MNIST").mkdir(parents=True)
    (data_dir / ".mnist.backup01" / "MNIST" / "mine.txt").write_text("mine")
    (data_dir / ".mnist.k3j4h5g6" / "MNIST" / "raw").mkdir(parents=True)  # a fetch's
    assert _fetch(url, data_dir) == 0
    assert _names(data_dir) == [".mnist.backup01", ".mnist.raw_data", "binarized_mnist.npz"]
    assert (data_dir / ".mnist.raw_data" / "MINE" / "notes.txt").read_text() == "mine"
    assert "removed 1 temporaries a stopped earlier fetch left: .mnist.k3j4h5g6" in (
        capsys.readouterr().err
    )


def test_a_second_fetch_into_a_locked_folder_is_refused_and_deletes_nothing(amat, capsys):
    url, data_dir, _ = amat
    data_dir.mkdir()
    for name in STALE:
        (data_dir / name).write_text("another fetch's download")
    fd = _hold_lock(data_dir)
    try:
        assert _fetch(url, data_dir) == 2
        assert _names(data_dir) == sorted(STALE)  # neither removed nor written
    finally:
        os.close(fd)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"pgm data fetch: error: expected to be the only fetch writing into {data_dir}; "
        "found another `pgm data fetch` at work there; wait for it to finish"
    ]
    assert _fetch(url, data_dir) == 0  # the lock given back: the leftovers are stale now
    assert _names(data_dir) == ["binarized_mnist.npz"]


def test_a_refused_fetch_leaves_a_folder_it_made_to_the_fetch_at_work(amat, monkeypatch):
    url, data_dir, _ = amat
    real = data_fetch._lock_folder

    def racing(folder, say, created):  # another fetch locks the new folder first
        fd = _hold_lock(folder)
        try:
            return real(folder, say, created)
        finally:
            os.close(fd)

    monkeypatch.setattr(data_fetch, "_lock_folder", racing)
    assert _fetch(url, data_dir) == 2
    assert data_dir.is_dir()  # the other fetch's folder: not removed under it


def test_an_existing_file_kept_clears_leftovers_only_when_no_fetch_is_at_work(amat, capsys):
    url, data_dir, _ = amat
    data_dir.mkdir()
    (data_dir / "binarized_mnist.npz").write_bytes(b"the user's own file")
    (data_dir / STALE[0]).write_text("x")
    fd = _hold_lock(data_dir)
    try:
        assert _fetch(url, data_dir) == 0  # kept: another fetch at work is no reason to fail
    finally:
        os.close(fd)
    assert _names(data_dir) == sorted(("binarized_mnist.npz", STALE[0]))
    assert _fetch(url, data_dir) == 0
    assert _names(data_dir) == ["binarized_mnist.npz"]
    assert (data_dir / "binarized_mnist.npz").read_bytes() == b"the user's own file"


def test_a_fetch_killed_mid_download_is_cleaned_up_by_the_next(httpd, amat, capsys):
    """SIGKILL runs no clean-up: the temporary stays until the next fetch, which can tell it is
    stale because the killed process's lock went with it. (python is started directly, not under
    `timeout`, so that waiting reaps the very process that held the lock; the finally clause and
    the waits' timeouts bound it.)"""
    url, data_dir, _ = amat
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = ["data", "fetch", "binarized-mnist", "--data-dir", str(data_dir), "--mirror"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pgm_cli.main", *cmd, url + "stall/"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert httpd.sent.wait(30), "the fetch never reached the server"
        temporaries = list(data_dir.glob(".binarized_mnist_train.amat.*.tmp"))
        assert len(temporaries) == 1
        assert proc.poll() is None  # still waiting on the stalled server
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert _names(data_dir) == [temporaries[0].name]  # the kill left it
    httpd.release.set()
    assert _fetch(url, data_dir) == 0
    assert _names(data_dir) == ["binarized_mnist.npz"]
    assert f"removed 1 temporaries a stopped earlier fetch left: {temporaries[0].name}" in (
        capsys.readouterr().err
    )


def test_a_server_dripping_bytes_is_given_up_on(amat, monkeypatch):
    """urllib's timeout bounds each read: one byte every 0.3 s (or 50 s) never tripped it."""
    url, data_dir, _ = amat
    monkeypatch.setattr(data_fetch, "STALL_WINDOW_S", 1.0)
    monkeypatch.setattr(data_fetch, "STALL_MIN_BYTES", 1024)
    start = time.monotonic()
    with pytest.raises(data_fetch.PgmError) as err:
        data_fetch.fetch("binarized-mnist", data_dir, url + "drip/")
    assert time.monotonic() - start < 5
    line = str(err.value)
    assert line.startswith(
        f"expected {url}drip/binarized_mnist_train.amat to send at least 1 KiB every 1 s; found "
    )
    assert "(a stalled or throttled server); nothing was written" in line and "\n" not in line
    assert not data_dir.exists()  # the temporary and the folder made for it are gone


def test_a_file_url_mirror_still_works(amat):
    url, data_dir, arrays = amat
    served = data_dir.parent / "served"
    assert _fetch(served.as_uri(), data_dir) == 0
    assert np.array_equal(
        load_binarized_mnist("valid", data_dir).images.flatten(1), arrays["valid"]
    )
    assert _names(data_dir) == ["binarized_mnist.npz"]


def test_a_server_dripping_its_headers_is_given_up_on(tmp_path, monkeypatch):
    """The stall rule reads the body: a server sending its status line and headers one byte
    every 0.3 s was waited on for ever (urllib's timeout bounds each read)."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n":
                if stop.wait(0.3):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    server = threading.Thread(target=drip, daemon=True)
    server.start()
    monkeypatch.setattr(data_fetch, "HEADERS_DEADLINE_S", 1.0)
    url = f"http://127.0.0.1:{port}/"
    data_dir = tmp_path / "data"
    start = time.monotonic()
    try:
        with pytest.raises(data_fetch.PgmError) as err:
            data_fetch.fetch("binarized-mnist", data_dir, url, checksums={"train": "0" * 64})
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - start < 5  # the headers alone would take 11 s
    line = str(err.value)
    assert line.startswith(
        f"expected {url}binarized_mnist_train.amat to answer within 1 s; found its "
        "status line and headers still arriving"
    )
    assert "\n" not in line and not data_dir.exists()  # the temporary and the folder are gone


# -- a hostile tester's mirrors: not HTTP, file:// for mnist, escape codes, credentials ---------


@pytest.fixture
def raw_server():
    """Starts loopback servers that read a request and answer it with the bytes given (none: the
    connection closed without a response); yields the function, bytes -> the server's URL."""
    listeners = []

    def start(answer: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn, contextlib.suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(answer)

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/"

    yield start
    for listener in listeners:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()


def _first_file(dataset: str) -> str:
    return MNIST_FILES["x_train"] if dataset == "mnist" else "binarized_mnist_train.amat"


def _folder_with_notes(data_dir: Path) -> None:
    """A data folder as a user has it: a failed fetch must leave it so."""
    data_dir.mkdir()
    (data_dir / "notes.txt").write_text("mine")


@pytest.mark.parametrize("dataset", ["binarized-mnist", "mnist"])
@pytest.mark.parametrize(
    ("answer", "found"),
    [
        (b"NOT HTTP AT ALL\r\n", "BadStatusLine: NOT HTTP AT ALL"),
        (b"", "RemoteDisconnected: Remote end closed connection without response"),
        (b"\x1b[2J\x07NOT\tHTTP\r\n", "BadStatusLine: \\x1b[2J\\x07NOT\\tHTTP"),
    ],
)
def test_a_server_that_does_not_speak_http_is_one_line(
    raw_server, tmp_path, capsys, dataset, answer, found
):
    """mnist: a status line that is no HTTP was a traceback (http.client.BadStatusLine, which
    torchvision lets through); a dropped connection read ``expected torchvision to download MNIST
    from URL; found Remote end closed connection without response``. The server's bytes were
    shown raw (escape codes, a tab)."""
    url = raw_server(answer)
    data_dir = tmp_path / "data"
    _folder_with_notes(data_dir)
    argv = ["data", "fetch", dataset, "--data-dir", str(data_dir), "--mirror", url]
    assert main(argv) == 2
    assert _error_line(capsys) == (
        f"pgm data fetch: error: expected the file at {url}{_first_file(dataset)}; found it cut "
        f"short or unreachable ({found}); nothing was written (--mirror URL fetches from another "
        "server)"
    )
    assert _names(data_dir) == ["notes.txt"]


@pytest.mark.parametrize("dataset", ["binarized-mnist", "mnist"])
def test_a_reason_phrase_is_shown_printable_and_cut(httpd, tmp_path, capsys, dataset):
    """A reason phrase with escape codes and a tab was echoed raw, and 3,000 characters of it
    were cut only at the command line's 2,000."""
    start = "I'm a \x1b[31mteapot\x1b[0m\tand\x07"
    httpd.reason = start + "y" * 3000
    shown = "I'm a \\x1b[31mteapot\\x1b[0m\\tand\\x07"
    kept = data_fetch.LONGEST_FOREIGN_TEXT - len(shown)  # of the y's
    left_out = 3000 - kept
    data_dir = tmp_path / "data"
    argv = [
        "data",
        "fetch",
        dataset,
        "--data-dir",
        str(data_dir),
        "--mirror",
        httpd.url + "reason/",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\t" not in err and "\x07" not in err
    assert err.strip().splitlines()[-1] == (
        f"pgm data fetch: error: expected the file at {httpd.url}reason/{_first_file(dataset)}; "
        f"found HTTP 418 {shown}{'y' * kept}… ({left_out:,} more characters); nothing was written "
        "(--mirror URL fetches from another server)"
    )
    assert _left(data_dir) == []


@pytest.mark.parametrize("dataset", ["binarized-mnist", "mnist"])
@pytest.mark.parametrize(
    ("userinfo", "shown"), [("user:s3cret@", "user:***@"), ("s3cret@", "***@")]
)
def test_credentials_in_a_mirror_are_refused_and_never_shown(
    server, tmp_path, capsys, dataset, userinfo, shown
):
    """``--mirror http://user:pass@host/`` showed the password in the error (urllib sends no
    credentials from a URL: it looked up ``user:pass@host`` as a host name, or read ``pass@host``
    as a port)."""
    url, _ = server
    mirror = url.replace("http://", f"http://{userinfo}")
    data_dir = tmp_path / "data"
    argv = ["data", "fetch", dataset, "--data-dir", str(data_dir), "--mirror", mirror]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "s3cret" not in err
    assert err.strip().splitlines() == [
        "pgm data fetch: error: --mirror: expected a folder URL without user:password@ (pgm "
        "sends no credentials; urllib would take them for part of the host name); found "
        f"{url.replace('http://', 'http://' + shown)!r}; nothing was written"
    ]
    assert not data_dir.exists()


def test_text_shown_from_a_server_hides_credentials_in_urls():
    """A server's or an exception's text naming a URL with credentials (a redirect's, say)."""
    text = "<urlopen error http://u:p@ss:w@host/x and https://t0ken@host/y, not mail@host>"
    assert data_fetch._printable(text) == (
        "<urlopen error http://u:***@host/x and https://***@host/y, not mail@host>"
    )


def test_a_mnist_file_with_another_md5_is_found_and_different_without_a_progress_bar(
    mnist, monkeypatch, capsys
):
    """torchvision's progress bar was printed before the error line, and the error read ``found
    File not found or corrupted``: the file was found, and it was another."""
    from torchvision.datasets import MNIST

    url, served, data_dir, _, _ = mnist
    resources = list(MNIST.resources)
    name, md5 = resources[1]
    resources[1] = (name, "0" * 32)
    monkeypatch.setattr(MNIST, "resources", resources)
    _folder_with_notes(data_dir)
    assert _fetch_mnist(url, data_dir) == 2
    err = capsys.readouterr().err
    assert "%|" not in err and "\r" not in err
    assert err.strip().splitlines()[-1] == (
        f"pgm data fetch: error: expected {name} with md5 {'0' * 32}; found {md5} from "
        f"{url}{name} (a different or damaged file); nothing was written"
    )
    assert _names(data_dir) == ["notes.txt"]


def test_mnist_from_a_file_url_mirror(mnist, capsys):
    """torchvision's download of a file:// URL failed with ``AttributeError: '_io.BufferedReader'
    object has no attribute 'length'``, a traceback."""
    url, served, data_dir, arrays, _ = mnist
    before = {p.name: p.read_bytes() for p in served.iterdir()}
    assert _fetch_mnist(served.as_uri(), data_dir) == 0
    test = load_mnist("test", data_dir)
    assert np.array_equal(test.images.squeeze(1).numpy(), arrays["x_test"])
    assert np.array_equal(test.labels.numpy(), arrays["y_test"])
    assert _names(data_dir) == ["mnist.npz"]
    assert {p.name: p.read_bytes() for p in served.iterdir()} == before  # copied, not moved
    err = capsys.readouterr().err
    assert f"pgm data fetch: copying {served.as_uri()}/{MNIST_FILES['y_test']}" in err


@pytest.mark.parametrize("damage", ["missing", "folder", "another file"])
def test_a_file_url_mirror_without_the_right_file_is_refused(mnist, capsys, damage):
    from torchvision.datasets import MNIST

    url, served, data_dir, _, _ = mnist
    name = MNIST_FILES["x_test"]  # the third: two files are copied before it
    path = served / name
    if damage == "another file":
        path.write_bytes(b"another file")
        md5 = dict(MNIST.resources)[name]
        found = (
            f"expected {name} with md5 {md5}; found {hashlib.md5(b'another file').hexdigest()} "
            f"from {served.as_uri()}/{name} (a different or damaged file); nothing was written"
        )
    else:
        path.unlink()
        if damage == "folder":
            path.mkdir()
        found = (
            f"expected the file at {served.as_uri()}/{name}; found "
            f"{'no such file' if damage == 'missing' else 'a folder'}; nothing was written "
            "(--mirror URL fetches from another server)"
        )
    _folder_with_notes(data_dir)
    assert _fetch_mnist(served.as_uri() + "/", data_dir) == 2
    assert _error_line(capsys) == f"pgm data fetch: error: {found}"
    assert _names(data_dir) == ["notes.txt"]


def test_a_silent_server_does_not_hold_an_mnist_fetch_for_ever(tmp_path, monkeypatch, capsys):
    """torchvision's MNIST download opens its URL with no timeout: a server that accepted the
    connection and never answered held ``pgm data fetch mnist`` for ever. With the read timeout
    set to 1 s it is given up on in about a second, in one line, the folder left as found and
    the process-wide socket default put back."""
    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def accept() -> None:
        with suppress(OSError):
            conn, _ = listener.accept()
            held.append(conn)  # read nothing, answer nothing

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.setattr(data_fetch, "_TIMEOUT_S", 1.0)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    data_dir = tmp_path / "data"
    start = time.monotonic()
    try:
        assert _fetch_mnist(url, data_dir) == 2
    finally:
        listener.close()
        for conn in held:
            conn.close()
    assert time.monotonic() - start < 10
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(
        f"pgm data fetch: error: expected the file at {url}train-images-idx3-ubyte.gz; found "
    )
    assert "found no answer for 1 s (a stalled server); nothing was written" in line
    assert not data_dir.exists() and socket.getdefaulttimeout() is None


def test_the_missing_data_hint_is_a_command_that_runs_as_shown(tmp_path):
    """The hint's ``--data-dir`` is quoted for a shell: a folder with a space ("a b") gave a
    command that fetched into ``a``."""
    import shlex

    folder = tmp_path / "a b"
    folder.mkdir()
    with pytest.raises(FileNotFoundError) as caught:
        load_binarized_mnist("train", folder)
    command = str(caught.value).split("`")[1]
    assert shlex.split(command) == [
        "pgm", "data", "fetch", "binarized-mnist", "--data-dir", str(folder)
    ]  # fmt: skip


def test_a_data_dir_that_is_no_folder_is_named_for_what_it_is(tmp_path, capsys):
    """A FIFO was called "a file"."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["data", "fetch", "mnist", "--data-dir", str(fifo)]) == 2
    assert _error_line(capsys).endswith(f"--data-dir: expected a folder; found a FIFO: {fifo}")


def test_a_bad_data_folder_from_the_environment_is_said_for_pgm_data_dir(
    tmp_path, capsys, monkeypatch
):
    """The folder came from ``PGM_DATA_DIR``, not from a --data-dir the user never typed."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    monkeypatch.setenv("PGM_DATA_DIR", str(fifo))
    assert main(["data", "fetch", "mnist"]) == 2
    assert _error_line(capsys).endswith(f"PGM_DATA_DIR: expected a folder; found a FIFO: {fifo}")
    if Path("/proc/self").is_dir():
        monkeypatch.setenv("PGM_DATA_DIR", "/proc/self/data")
        assert main(["data", "fetch", "mnist"]) == 2
        assert "PGM_DATA_DIR: expected a folder pgm data fetch can create and write in; found" in (
            _error_line(capsys)
        )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("name", ["mnist", "binarized-mnist"])
@pytest.mark.parametrize("folder", ["/proc/self", "/proc/self/data"])
def test_a_data_dir_that_refuses_files_is_said_for_data_dir(name, folder, capsys):
    """``--data-dir=/proc/self`` (a folder no file can be made in) gave a bare
    "[Errno 2] No such file or directory: '/proc/1/.mnist.vuv_1op2'", and /proc/self/data (one
    that cannot be made) "[Errno 2] ... '/proc/1/data'"."""
    assert main(["data", "fetch", name, "--data-dir", folder]) == 2
    said = _error_line(capsys)
    assert (
        "--data-dir: expected a folder pgm data fetch can create and write in; found /proc/self"
        in said
    )
    assert "nothing was written" in said and "Errno" not in said


@pytest.mark.parametrize("name", ["binarized-mnist", "mnist"])
def test_a_file_mirror_serving_a_fifo_is_refused_not_waited_on(tmp_path, capsys, name):
    """A ``file://`` mirror whose file is a FIFO blocked ``pgm data fetch binarized-mnist`` for
    ever (opening a FIFO waits for a writer): refused in one line, nothing written."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    first = "binarized_mnist_train.amat" if name == "binarized-mnist" else None
    if first is None:
        from torchvision.datasets import MNIST

        first = MNIST.resources[0][0]
    os.mkfifo(mirror / first)
    data_dir = tmp_path / "data"
    assert (
        main(["data", "fetch", name, "--data-dir", str(data_dir), "--mirror", mirror.as_uri()]) == 2
    )
    assert _error_line(capsys).endswith(
        f"expected the file at {(mirror / first).as_uri()}; found a FIFO; nothing was written "
        "(--mirror URL fetches from another server)"
    )
    assert not data_dir.exists()
