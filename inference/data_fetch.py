"""``pgm data fetch NAME``: obtain the data a recipe needs, checked, as the ``.npz`` pgm reads.

- ``binarized-mnist``: the static binarization of Larochelle & Murray (2011), the three
  text files ``binarized_mnist_{train,valid,test}.amat`` from the folder the literature cites
  (:data:`BINARIZED_MNIST_URL`), each checked against :data:`AMAT_SHA256` before it is
  converted into ``binarized_mnist.npz`` (uint8 ``train`` (50000, 784), ``valid``, ``test``).
- ``mnist``: MNIST through torchvision's own :class:`torchvision.datasets.MNIST` (its mirrors
  and its MD5 of each file), the decoded arrays checked against :data:`MNIST_SHA256`, written
  as ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``, keras' layout). Each file
  is fetched by torchvision's ``download_and_extract_archive`` (its progress bar not shown) from
  one URL at a time, so that a failure names its URL and what it gave; from a ``file://`` mirror
  pgm copies the file into torchvision's raw folder itself (torchvision's download cannot read a
  file URL), and torchvision, finding it there with its MD5, only checks and extracts it.

Every download goes to a hidden temporary file beside the target and is removed whatever
happens; the ``.npz`` is written atomically (:func:`inference.atomic_write.atomic_write`), so
a refused checksum, a server error, an unreachable host, a download cut short or Ctrl-C leave
the data folder as it was. An existing ``.npz`` is kept unless ``force``. ``mirror`` replaces
the original server: a URL (``http://``, ``https://``, ``file:///`` and an absolute path) of a
folder holding the same file names, without credentials (urllib sends none from a URL). A
server that sends fewer than :data:`STALL_MIN_BYTES` in any :data:`STALL_WINDOW_S` seconds is
given up on in one line (a per-read timeout alone let a server dripping one byte a minute keep
a download going forever), and so is one whose status line and headers have not arrived
:data:`HEADERS_DEADLINE_S` seconds after the request (binarized-mnist's downloads;
torchvision's MNIST download, which sets no timeout, gets a read timeout of ``_TIMEOUT_S``
seconds). Text a message shows from a server or an exception (a reason phrase, an error's text)
has its control characters escaped and credentials in any URL in it hidden, and is cut at
:data:`LONGEST_FOREIGN_TEXT` characters.

A fetch holds an exclusive ``fcntl.flock`` on the data folder itself (no lock file; the kernel
drops it when the process dies, even by SIGKILL): a second fetch into the same folder at the
same time is refused in one line, and a fetch holding it removes the temporaries a killed
earlier fetch left (only pgm's exact names, :func:`remove_stale_temporaries`). Without
``fcntl`` (Windows) there is neither lock nor clean-up.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import io
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, suppress
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, no clean-up of stale temporaries
    fcntl = None

import numpy as np

from pgm.data.npz import data_dir_source, resolve_data_dir
from pgm.errors import PgmError

from .atomic_write import atomic_write, temporary_pattern
from .out_path import check_out_path, make_folders, os_error_text, remove_created, what_is

__all__ = [
    "AMAT_BYTES",
    "AMAT_SHA256",
    "BINARIZED_MNIST_URL",
    "DATASETS",
    "MNIST_SHA256",
    "HEADERS_DEADLINE_S",
    "LONGEST_FOREIGN_TEXT",
    "STALL_MIN_BYTES",
    "STALL_WINDOW_S",
    "FetchLockedError",
    "download",
    "fetch",
    "parse_amat",
    "remove_stale_temporaries",
]

#: The folder the literature cites for the static binarized MNIST (Larochelle & Murray 2011).
BINARIZED_MNIST_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"

#: sha256 of the canonical ``.amat`` files: TensorFlow Datasets' record of these URLs
#: (tensorflow/datasets, ``tensorflow_datasets/datasets/binarized_mnist/checksums.tsv``, 78,400,000
#: and 15,680,000 bytes). train and valid were also rebuilt byte for byte from the independently
#: sourced ``binarized_mnist.npz`` of the project's development data (its SOURCES.md) and hash to
#: these same values; test is TFDS's value alone.
AMAT_SHA256 = {
    "train": "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
    "valid": "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
    "test": "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
}

#: The size of each canonical ``.amat`` file (images x 784 values x 2 bytes): a download is
#: cut off, and refused, past it, so a mirror serving an endless stream cannot fill the disk.
AMAT_BYTES = {"train": 78_400_000, "valid": 15_680_000, "test": 15_680_000}

#: sha256 of the C-ordered bytes of each uint8 array of MNIST as torchvision decodes it (the
#: arrays of the development data's ``mnist.npz``, whose source files carry the official MD5s;
#: torchvision checks each downloaded file's MD5 itself).
MNIST_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}

#: Each fetchable dataset: the ``.npz`` it writes and where its files come from.
DATASETS = {
    "binarized-mnist": ("binarized_mnist.npz", "Larochelle & Murray's .amat files"),
    "mnist": ("mnist.npz", "torchvision.datasets.MNIST"),
}

#: A download is given up when fewer than ``STALL_MIN_BYTES`` arrive in ``STALL_WINDOW_S``
#: seconds (urllib's timeout bounds each read, not the whole: a server sending a byte every
#: 50 s never times out). The canonical files are 78 MB and 16 MB: at 64 KiB per 120 s the
#: train file would take two days, so nothing usable is cut off.
STALL_MIN_BYTES = 64 * 1024
STALL_WINDOW_S = 120.0

#: The status line and headers must have arrived this many seconds after the request: the
#: stall rule reads the body only, and a server dripping its headers byte by byte was waited on
#: for ever. The socket is shut when the deadline passes.
HEADERS_DEADLINE_S = 120.0

#: The most characters of a server's or an exception's text a message shows (past them the
#: rest is counted): a reason phrase may be any length a status line allows (64 KiB).
LONGEST_FOREIGN_TEXT = 200

_CHUNK = 1 << 20
_TIMEOUT_S = 60

#: ``scheme://userinfo@`` in a text (the userinfo up to the host's last ``@``).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s]*)@")


def _redacted(text: str) -> str:
    """``text`` with the credentials of every URL in it hidden: ``user:***@``, or ``***@`` where
    there is no password (the user part may be a token)."""

    def hide(match: re.Match) -> str:
        user, colon, _ = match.group(2).partition(":")
        return f"{match.group(1)}{user + ':' if colon else ''}***@"

    return _USERINFO.sub(hide, text)


def _printable(text: object) -> str:
    """Text from a server or an exception, fit for a one-line message: stripped, credentials in
    URLs hidden (:func:`_redacted`), each character that is not printable escaped as ``repr``
    writes it (``\\x1b``, ``\\t``), and cut at :data:`LONGEST_FOREIGN_TEXT` characters."""
    shown: list[str] = []
    chars = _redacted(str(text).strip())
    length = 0
    for i, c in enumerate(chars):
        piece = c if c.isprintable() else repr(c)[1:-1]
        if length + len(piece) > LONGEST_FOREIGN_TEXT:
            return "".join(shown) + f"… ({len(chars) - i:,} more characters)"
        shown.append(piece)
        length += len(piece)
    return "".join(shown)


def _watched(connection: type, sockets: list) -> type:
    """``connection`` (an ``http.client`` connection class) that files its socket in
    ``sockets`` once connected, so that :func:`_open` can shut it."""

    class Watched(connection):
        def connect(self):
            super().connect()
            sockets.append(self.sock)

    return Watched


def _open(url: str):
    """``urllib.request.urlopen(url)``, with :data:`HEADERS_DEADLINE_S` on the answer's status
    line and headers (redirects included); a ``file://`` URL opens as it is."""
    if not url.lower().startswith(("http://", "https://")):
        _local_file(url)  # a FIFO would block the open itself
        return urllib.request.urlopen(url, timeout=_TIMEOUT_S)
    sockets: list = []
    http_conn = _watched(http.client.HTTPConnection, sockets)
    https_conn = _watched(http.client.HTTPSConnection, sockets)

    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(http_conn, req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req):
            options = {"context": self._context}
            if getattr(self, "_check_hostname", None) is not None:  # Python < 3.12
                options["check_hostname"] = self._check_hostname
            return self.do_open(https_conn, req, **options)

    passed = threading.Event()

    def shut() -> None:
        passed.set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(HEADERS_DEADLINE_S, shut)
    timer.daemon = True
    timer.start()
    try:
        return urllib.request.build_opener(HTTP, HTTPS).open(url, timeout=_TIMEOUT_S)
    except (OSError, http.client.HTTPException):
        if passed.is_set():
            raise PgmError(
                f"expected {url} to answer within {HEADERS_DEADLINE_S:g} s; found "
                "its status line and headers still arriving (a stalled or throttled server); "
                "nothing was written (--mirror URL fetches from another server)"
            ) from None
        raise
    finally:
        timer.cancel()


#: The temporaries of a fetch (``download``'s ``.amat`` files, the atomic write of each
#: ``.npz``) and the ``.mnist.XXXXXXXX`` folder torchvision downloads into: a kill leaves them.
_STALE_FILE = re.compile(
    temporary_pattern(r"binarized_mnist_(?:train|valid|test)\.amat|(?:binarized_)?mnist\.npz")
)
_STALE_FOLDER = re.compile(r"\.mnist\.[a-z0-9_]{8}")


class FetchLockedError(PgmError):
    """Another ``pgm data fetch`` is writing into the same data folder."""


def _temporary(folder: Path, name: str) -> Path:
    fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    return Path(path)


def _too_large(url: str, max_bytes: int, found: str) -> PgmError:
    return PgmError(
        f"expected at most {max_bytes:,} bytes from {url}; found {found} (not the "
        "published file); nothing was written (--mirror URL fetches from another server)"
    )


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n:,} bytes"


def _stalled(url: str, got: int) -> PgmError:
    window = f"{STALL_WINDOW_S:g} s"
    return PgmError(
        f"expected {url} to send at least {_size(STALL_MIN_BYTES)} every {window}; "
        f"found {got:,} bytes in the last {window} (a stalled or throttled server); nothing "
        "was written (--mirror URL fetches from another server)"
    )


def _http_status(code: int, reason: object) -> str:
    """``HTTP 404 Not Found`` (a server may send no reason; the one sent, :func:`_printable`)."""
    shown = _printable(reason) if reason is not None else ""
    return f"HTTP {code} {shown}" if shown else f"HTTP {code}"


def _chunks(response, url: str) -> Iterator[bytes]:
    """The body of ``response`` as it arrives (``read1``: each read returns what is there, so
    a slow server is seen between its bytes), refused in one line when fewer than
    :data:`STALL_MIN_BYTES` arrive within :data:`STALL_WINDOW_S` seconds."""
    read = getattr(response, "read1", None) or response.read  # file:// answers have read1 too
    start, got = time.monotonic(), 0
    while chunk := read(_CHUNK):
        yield chunk
        got += len(chunk)
        now = time.monotonic()
        if now - start >= STALL_WINDOW_S:
            if got < STALL_MIN_BYTES:
                raise _stalled(url, got)
            start, got = now, 0


def download(url: str, folder: Path, sha256: str, max_bytes: int | None = None) -> Path:
    """Download ``url`` into a hidden temporary file in ``folder`` and check its sha256; returns
    the file, which the caller removes. Any failure removes it and raises one line; so does a
    download longer than ``max_bytes`` (stopped there), and one slower than
    :data:`STALL_MIN_BYTES` per :data:`STALL_WINDOW_S` seconds."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    tmp = _temporary(folder, name)
    digest = hashlib.sha256()
    try:
        try:
            with _open(url) as response, tmp.open("wb") as f:
                expected, got = response.headers.get("Content-Length"), 0
                if max_bytes is not None and expected is not None and expected.isdigit():
                    if int(expected) > max_bytes:
                        raise _too_large(url, max_bytes, f"Content-Length {int(expected):,}")
                for chunk in _chunks(response, url):
                    digest.update(chunk)
                    f.write(chunk)
                    got += len(chunk)
                    if max_bytes is not None and got > max_bytes:
                        raise _too_large(url, max_bytes, f"more than that ({got:,} so far)")
                if expected is not None and expected.isdigit() and got != int(expected):
                    raise http.client.IncompleteRead(b"", int(expected) - got)
        except PgmError:
            raise  # too large or stalled: its own line
        except urllib.error.HTTPError as err:
            raise PgmError(
                f"expected the file at {url}; found {_http_status(err.code, err.reason)}; "
                "nothing was written (--mirror URL fetches from another server)"
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            raise PgmError(
                f"expected the file at {url}; found {_cut_short(err)}; nothing was written "
                "(--mirror URL fetches from another server)"
            ) from None
        if digest.hexdigest() != sha256:
            raise PgmError(
                f"expected {name} with sha256 {sha256}; found {digest.hexdigest()} "
                f"from {url} (a different or damaged file); nothing was written"
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _cut_short(err: BaseException) -> str:
    """``it cut short or unreachable (RemoteDisconnected: ...)``: a download that failed other
    than by an HTTP status (the text :func:`_printable`)."""
    reason = getattr(err, "reason", None) or err
    return (
        f"it cut short or unreachable ({type(err).__name__}: {_printable(reason) or 'no detail'})"
    )


def parse_amat(raw: bytes, name: str) -> np.ndarray:
    """Rows of 784 ``0``/``1`` separated by single spaces, one image per line (the layout of
    Larochelle's ``.amat`` files), as a uint8 ``(N, 784)`` array."""
    flat = np.frombuffer(raw, dtype=np.uint8)
    width = 2 * 784
    rows = flat.reshape(-1, width) if flat.size and flat.size % width == 0 else None
    if rows is not None:
        seps, values = rows[:, 1::2], rows[:, 0::2] - ord("0")
        if (seps[:, :-1] == ord(" ")).all() and (seps[:, -1] == ord("\n")).all():
            if (values <= 1).all():
                return np.ascontiguousarray(values)
    raise PgmError(
        f"expected {name} to hold lines of 784 space-separated 0/1 values; "
        f"found {len(raw):,} bytes in another layout"
    )


def _fetch_binarized_mnist(
    target: Path, base_url: str, checksums: dict[str, str], say: Callable[[str], object]
) -> None:
    base = base_url if base_url.endswith("/") else base_url + "/"
    arrays = {}
    for split in ("train", "valid", "test"):
        name = f"binarized_mnist_{split}.amat"
        say(f"downloading {base}{name}")
        tmp = download(base + name, target.parent, checksums[split], AMAT_BYTES[split])
        try:
            arrays[split] = parse_amat(tmp.read_bytes(), name)
        finally:
            tmp.unlink(missing_ok=True)
    _write_npz(target, arrays)


def _mnist_class(mirror: str | None, say: Callable[[str], object]):
    """torchvision's MNIST, fetching from ``mirror`` (None: torchvision's own mirrors) with pgm's
    ``download``: each file from one URL at a time (:func:`_fetch_mnist_file`)."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import download_and_extract_archive

    if mirror is None:
        mirrors = list(MNIST.mirrors)
    else:
        mirrors = [mirror if mirror.endswith("/") else mirror + "/"]
    local = mirror is not None and mirror.lower().startswith("file:")

    def download(self) -> None:
        raw = Path(self.raw_folder)
        if all((raw / os.path.splitext(name)[0]).is_file() for name, _ in self.resources):
            return  # the training split's download fetched the test split's files too
        raw.mkdir(parents=True, exist_ok=True)
        for name, md5 in self.resources:
            _fetch_mnist_file(name, md5, mirrors, raw, local, say, download_and_extract_archive)

    # torchvision names its raw folder after the class: keep the name
    return type("MNIST", (MNIST,), {"mirrors": mirrors, "download": download})


def _fetch_mnist_file(
    name: str,
    md5: str,
    mirrors: list[str],
    raw: Path,
    local: bool,
    say: Callable[[str], object],
    download_and_extract: Callable,
) -> None:
    """Fetch MNIST file ``name`` into ``raw`` from the first of ``mirrors`` that has it with MD5
    ``md5``, extracted beside it by torchvision; refused in one line naming each URL tried and
    what it gave. From a file mirror the file is copied in first (:func:`_copy_file_url`)."""
    path = raw / name
    failures: list[tuple[str, str, str | None]] = []  # url, what happened, md5 found
    for base in mirrors:
        url = base + name
        if local:
            say(f"copying {url}")
            _copy_file_url(url, path, md5)
        else:
            say(f"downloading {url}")
        try:
            with redirect_stderr(io.StringIO()), _socket_timeout(_TIMEOUT_S):
                # torchvision's progress bar hidden; its urlopen sets no timeout of its own
                download_and_extract(url, download_root=str(raw), filename=name, md5=md5)
            return
        except (RuntimeError, OSError, http.client.HTTPException) as err:
            found_md5 = None
            if type(err) is RuntimeError and path.is_file():  # downloaded, and the MD5 differs
                found_md5 = _md5(path)
                found_md5 = found_md5 if found_md5 != md5 else None
            if isinstance(err, TimeoutError) or isinstance(
                getattr(err, "reason", None), TimeoutError
            ):
                what = f"no answer for {_TIMEOUT_S:g} s (a stalled server)"
            elif isinstance(err, urllib.error.HTTPError):
                err.close()
                what = _http_status(err.code, err.reason)
            elif isinstance(err, urllib.error.URLError):
                what = f"no connection ({_printable(err.reason) or 'no detail'})"
            else:
                what = _cut_short(err)
            failures.append((url, what, found_md5))
            path.unlink(missing_ok=True)  # neither the next mirror nor the message sees it
    raise _mnist_failure(name, md5, failures)


@contextmanager
def _socket_timeout(seconds: float):
    """Every socket opened meanwhile without a timeout of its own waits at most ``seconds`` to
    connect and for each read (torchvision's MNIST download opens its URL with none, so a
    server that accepted and never answered held ``pgm data fetch mnist`` for ever). The
    process-wide default is put back afterwards."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(before)


def _mnist_failure(name: str, md5: str, failures: list[tuple[str, str, str | None]]) -> PgmError:
    """The one line for MNIST file ``name`` that no mirror gave: a file with another MD5, or
    the HTTP status or connection error, of each URL tried."""
    if len(failures) == 1 and failures[0][2] is not None:
        url, _, found = failures[0]
        return PgmError(
            f"expected {name} with md5 {md5}; found {found} from {url} (a different or damaged "
            "file); nothing was written"
        )
    expected = " or ".join(url for url, _, _ in failures)
    found = [
        f"md5 {found} instead of {md5} (a different or damaged file)" if found else what
        for _, what, found in failures
    ]
    if len(failures) > 1:
        found = [f"{url}: {text}" for (url, _, _), text in zip(failures, found, strict=True)]
    return PgmError(
        f"expected the file at {expected}; found {', '.join(found)}; nothing was written "
        "(--mirror URL fetches from another server)"
    )


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _local_file(url: str) -> Path:
    """The regular file a ``file:///`` ``url`` names; a missing one, a folder, and a FIFO or
    device (which could be read for ever: opening a FIFO waits for a writer) are refused in one
    line."""
    source = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    if not source.is_file():
        raise _refused(url, what_is(source) if source.exists() else "no such file")
    return source


def _refused(url: str, found: str) -> PgmError:
    """A ``file:///`` mirror's file refused: what was found at ``url`` instead."""
    return PgmError(
        f"expected the file at {url}; found {found}; nothing was written "
        "(--mirror URL fetches from another server)"
    )


def _copy_file_url(url: str, dest: Path, md5: str) -> None:
    """Copy the file a ``file:///`` ``url`` names to ``dest`` (torchvision's raw folder, where
    its download finds it and checks its MD5 rather than fetching it); a missing file, one that
    cannot be read and one whose MD5 is not ``md5`` are refused in one line (``dest`` is in the
    fetch's temporary folder, removed with it)."""
    name = dest.name
    source = _local_file(url)

    def unreadable(err: OSError) -> PgmError:
        return _refused(url, f"it unreadable ({type(err).__name__}: {_printable(err)})")

    digest = hashlib.md5(usedforsecurity=False)
    try:
        f = source.open("rb")
    except OSError as err:
        raise unreadable(err) from None
    with f, dest.open("wb") as out:
        while True:
            try:
                chunk = f.read(_CHUNK)
            except OSError as err:
                raise unreadable(err) from None
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != md5:
        raise PgmError(
            f"expected {name} with md5 {md5}; found {digest.hexdigest()} from {url} (a different "
            "or damaged file); nothing was written"
        )


def _fetch_mnist(
    target: Path, mirror: str | None, checksums: dict[str, str], say: Callable[[str], object]
) -> None:
    cls = _mnist_class(mirror, say)
    arrays = {}
    with tempfile.TemporaryDirectory(prefix=".mnist.", dir=target.parent) as root:
        for train, suffix in ((True, "train"), (False, "test")):
            say(f"torchvision.datasets.MNIST(train={train}, download=True)")
            try:
                ds = cls(root, train=train, download=True)
            except (RuntimeError, OSError, http.client.HTTPException) as err:
                # not a download's failure (those are PgmError): extracting or reading the files
                raise PgmError(
                    f"expected torchvision to read MNIST downloaded from {', '.join(cls.mirrors)}; "
                    f"found {_printable(err) or type(err).__name__}; nothing was written "
                    "(--mirror URL fetches from another server)"
                ) from None
            arrays[f"x_{suffix}"] = ds.data.numpy().astype(np.uint8)
            arrays[f"y_{suffix}"] = ds.targets.numpy().astype(np.uint8)
    for key, array in arrays.items():
        found = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if found != checksums[key]:
            raise PgmError(
                f"expected MNIST {key} {array.shape} with sha256 {checksums[key]}; "
                f"found {found} (a different or damaged file); nothing was written"
            )
    _write_npz(target, arrays)


def _write_npz(target: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:  # a path would get ".npz" appended by numpy
            np.savez_compressed(f, **arrays)

    atomic_write(target, write)


def fetch(
    name: str,
    data_dir: str | Path | None = None,
    mirror: str | None = None,
    force: bool = False,
    *,
    checksums: dict[str, str] | None = None,
    say: Callable[[str], object] = lambda line: None,
) -> tuple[Path, bool]:
    """Obtain dataset ``name`` (a key of :data:`DATASETS`) into ``data_dir`` (default
    ``$PGM_DATA_DIR``, else ``~/.pgm/data``); returns ``(path, written)``, ``written`` False when
    the file was there already and ``force`` is not set. ``checksums`` replaces the published
    table (tests serve small files of the same format); ``say`` receives progress lines."""
    if name not in DATASETS:
        raise PgmError(f"NAME: expected one of {', '.join(DATASETS)}; found {name!r}")
    named = data_dir_source(data_dir)  # --data-dir, or PGM_DATA_DIR when that set it
    folder = check_out_path(resolve_data_dir(data_dir), named)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{named}: expected a folder; found {what_is(folder)}: {folder}")
    _check_mirror(mirror)
    target = folder / DATASETS[name][0]
    if target.exists() and not force:
        try:  # clear what a killed fetch left, unless another fetch is at work there
            with _folder_lock(folder, say):
                pass
        except (FetchLockedError, OSError):
            pass  # keeping the file needs neither
        return target, False
    created: list[Path] = []  # the folders made here, removed again on failure
    try:
        make_folders(folder, created)
        with _folder_lock(folder, say, created):
            try:
                if name == "binarized-mnist":
                    table = checksums if checksums is not None else AMAT_SHA256
                    _fetch_binarized_mnist(target, mirror or BINARIZED_MNIST_URL, table, say)
                else:
                    table = checksums if checksums is not None else MNIST_SHA256
                    _fetch_mnist(target, mirror, table, say)
            except BaseException:
                remove_created(created)  # still holding the lock: no other fetch is in them
                raise
    except FetchLockedError:
        raise  # the other fetch works in the folders: left as they are
    except OSError as err:
        remove_created(created)
        if err.filename is None:
            raise
        where, reason = Path(err.filename), os_error_text(err)
        if where.parent == folder:
            # the folder refuses pgm's temporaries (/proc/1, a read-only mount): said as
            # --data-dir's fault, not as a bare "[Errno 2] ... '/proc/1/.mnist.vuv_1op2'"
            found = f"{folder} refusing a temporary file there ({reason})"
        elif where in (folder, *folder.parents):  # making it: /proc/1/data, /sys/kernel/x
            found = f"{where} refused ({reason})"
        else:
            raise
        raise PgmError(
            f"{named}: expected a folder pgm data fetch can create and write in; found "
            f"{found}; nothing was written"
        ) from None
    except BaseException:
        remove_created(created)
        raise
    return target, True


@contextmanager
def _folder_lock(
    folder: Path, say: Callable[[str], object], created: list[Path] | None = None
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` itself (opened read-only: no lock file) and
    remove the temporaries an earlier, killed fetch left there; a folder another process holds
    is refused in one line (:class:`FetchLockedError`), touching nothing. No-op without
    ``fcntl``, or on a file system that refuses ``flock`` on a folder (then nothing is removed).
    ``created``: where to record a folder made again (see below)."""
    fd = _lock_folder(folder, say, [] if created is None else created)
    if fd is None:
        yield
        return
    try:
        stale = remove_stale_temporaries(folder)
        if stale:
            names = ", ".join(p.name for p in stale)
            say(f"removed {len(stale)} temporaries a stopped earlier fetch left: {names}")
        yield
    finally:
        os.close(fd)


def _lock_folder(folder: Path, say: Callable[[str], object], created: list[Path]) -> int | None:
    """The locked descriptor of ``folder``, or None where no lock can be had (see above)."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    for _ in range(5):  # another fetch may remove a folder it made just as we open it
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise FetchLockedError(
                    f"expected to be the only fetch writing into {folder}; found "
                    "another `pgm data fetch` at work there; wait for it to finish"
                ) from None
            # a file system without flock on folders (NFS wants a file open for writing)
            say(f"no lock on {folder} ({os.strerror(err.errno)}): stale temporaries kept")
            return None
        try:
            if os.fstat(fd).st_ino == os.stat(folder).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # locked a folder since removed: lock the one now at that path
        make_folders(folder, created)
    raise PgmError(  # pragma: no cover - a folder removed and made again five times over
        f"expected the folder {folder} to stay; found it removed and made again"
    )


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries of fetches in ``folder`` (call only while holding its lock: then
    no fetch is running there and they are a killed one's); returns them. Only pgm's exact
    names are touched: ``.binarized_mnist_train.amat.XXXXXXXX.tmp`` and the like, and
    ``.mnist.XXXXXXXX`` folders holding only torchvision's files; a user's ``.notes.tmp`` (or
    ``.mnist.raw_data`` with their own files) stays."""
    stale = []
    for p in sorted(Path(folder).glob(".*")):
        if _STALE_FILE.fullmatch(p.name) and p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
        elif _STALE_FOLDER.fullmatch(p.name) and _torchvision_folder(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            continue
        stale.append(p)
    return stale


def _torchvision_folder(folder: Path) -> bool:
    """Whether ``folder`` (not a link) holds only what torchvision writes into a fetch's
    ``.mnist.XXXXXXXX``: an ``MNIST`` folder of ``raw``/``processed`` folders, or nothing yet. A
    user's ``.mnist.raw_data`` holding anything else is not a fetch's, and stays."""

    def only(path: Path, names: set[str]) -> bool:
        with os.scandir(path) as entries:
            return all(e.name in names and e.is_dir(follow_symlinks=False) for e in entries)

    try:
        if folder.is_symlink() or not folder.is_dir() or not only(folder, {"MNIST"}):
            return False
        inner = folder / "MNIST"
        return not inner.exists() or only(inner, {"raw", "processed"})
    except OSError:
        return False


def _check_mirror(mirror: str | None) -> None:
    """Refuse a ``--mirror`` that is not an http, https or file folder URL before any work: one
    with credentials (urllib sends none: it took ``user:pass@host`` for the host's name), and a
    file URL that is not ``file://`` and an absolute path on this machine."""
    if mirror is None:
        return
    shown = repr(_redacted(mirror))
    try:
        parts = urllib.parse.urlsplit(mirror)
    except ValueError:  # an unclosed [IPv6 address: urlsplit's own ValueError
        parts = None
    if (
        parts is None
        or not mirror.lower().startswith(("http://", "https://", "file://"))
        # the file names are appended: after a ?query or #fragment they would not name files
        or "?" in mirror
        or "#" in mirror
        or any(c.isspace() or not c.isprintable() for c in mirror)
    ):
        raise PgmError(
            "--mirror: expected a folder URL starting http://, https:// or file:// (no spaces, "
            f"?query or #fragment: the file names are appended to it); found {shown}; nothing "
            "was written"
        )
    if parts.scheme != "file":
        try:
            parts.port  # noqa: B018 - reading it checks it
            port_ok = True
        except ValueError:  # a port that is no number, or past 65535
            port_ok = False
        if not parts.hostname or not port_ok:
            raise PgmError(
                "--mirror: expected a host, and a port that is a number if any, after "
                f"{parts.scheme}://; found {shown}; nothing was written"
            )
    if "@" in parts.netloc:
        raise PgmError(
            "--mirror: expected a folder URL without user:password@ (pgm sends no credentials; "
            f"urllib would take them for part of the host name); found {shown}; nothing was "
            "written"
        )
    if parts.scheme == "file" and (
        parts.netloc.lower() not in ("", "localhost") or not parts.path.startswith("/")
    ):
        raise PgmError(
            "--mirror: expected a file URL of a folder on this machine, file:// and an absolute "
            f"path (file:///data/mnist/); found {shown}; nothing was written"
        )


# -- the command line: `pgm data fetch NAME` ---------------------------------------------------
