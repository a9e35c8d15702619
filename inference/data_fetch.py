"""``pgm data fetch NAME``: obtain the data a recipe needs, checked, as the ``.npz`` pgm reads.

- ``binarized-mnist``: the static binarization of Larochelle & Murray (2011), the three
  text files ``binarized_mnist_{train,valid,test}.amat`` from the folder the literature cites
  (:data:`BINARIZED_MNIST_URL`), each checked against :data:`AMAT_SHA256` before it is
  converted into ``binarized_mnist.npz`` (uint8 ``train`` (50000, 784), ``valid``, ``test``).
- ``mnist``: MNIST through torchvision's own :class:`torchvision.datasets.MNIST` (its mirrors
  and its MD5 of each file), the decoded arrays checked against :data:`MNIST_SHA256`, written
  as ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``, keras' layout).

Every download goes to a hidden temporary file beside the target and is removed whatever
happens; the ``.npz`` is written atomically (:func:`inference.atomic_write.atomic_write`), so
a refused checksum, a server error, an unreachable host, a download cut short or Ctrl-C leave
the data folder as it was. An existing ``.npz`` is kept unless ``force``. ``mirror`` replaces
the original server: a URL (``http://``, ``https://``, ``file://``) of a folder holding the
same file names.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pgm.data import resolve_data_dir
from pgm.errors import PgmError

from .atomic_write import atomic_write
from .out_path import make_folders, remove_created

__all__ = [
    "AMAT_BYTES",
    "AMAT_SHA256",
    "BINARIZED_MNIST_URL",
    "DATASETS",
    "MNIST_SHA256",
    "download",
    "fetch",
    "parse_amat",
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

_CHUNK = 1 << 20
_TIMEOUT_S = 60


def _temporary(folder: Path, name: str) -> Path:
    fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    return Path(path)


def _too_large(url: str, max_bytes: int, found: str) -> PgmError:
    return PgmError(
        f"data fetch: expected at most {max_bytes:,} bytes from {url}; found {found} (not the "
        "published file); nothing was written (--mirror URL fetches from another server)"
    )


def download(url: str, folder: Path, sha256: str, max_bytes: int | None = None) -> Path:
    """Download ``url`` into a hidden temporary file in ``folder`` and check its sha256; returns
    the file, which the caller removes. Any failure removes it and raises one line; so does a
    download longer than ``max_bytes`` (stopped there)."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    tmp = _temporary(folder, name)
    digest = hashlib.sha256()
    try:
        try:
            with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, tmp.open("wb") as f:
                expected, got = response.headers.get("Content-Length"), 0
                if max_bytes is not None and expected is not None and expected.isdigit():
                    if int(expected) > max_bytes:
                        raise _too_large(url, max_bytes, f"Content-Length {int(expected):,}")
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    f.write(chunk)
                    got += len(chunk)
                    if max_bytes is not None and got > max_bytes:
                        raise _too_large(url, max_bytes, f"more than that ({got:,} so far)")
                if expected is not None and expected.isdigit() and got != int(expected):
                    raise http.client.IncompleteRead(b"", int(expected) - got)
        except PgmError:
            raise  # too large: its own line
        except urllib.error.HTTPError as err:
            raise PgmError(
                f"data fetch: expected {url} to serve {name}; found HTTP {err.code} {err.reason} "
                "(--mirror URL fetches from another server)"
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            raise PgmError(
                f"data fetch: expected to download {url}; found it cut short or unreachable "
                f"({type(err).__name__}: {str(reason) or 'no detail'}); nothing was written "
                "(--mirror URL fetches from another server)"
            ) from None
        if digest.hexdigest() != sha256:
            raise PgmError(
                f"data fetch: expected {name} with sha256 {sha256}; found {digest.hexdigest()} "
                f"from {url} (a different or damaged file); nothing was written"
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


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
        f"data fetch: expected {name} to hold lines of 784 space-separated 0/1 values; "
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


def _mnist_class(mirror: str | None):
    from torchvision.datasets import MNIST

    if mirror is None:
        return MNIST
    base = mirror if mirror.endswith("/") else mirror + "/"
    # torchvision names its raw folder after the class: keep the name
    return type("MNIST", (MNIST,), {"mirrors": [base]})


def _fetch_mnist(
    target: Path, mirror: str | None, checksums: dict[str, str], say: Callable[[str], object]
) -> None:
    cls = _mnist_class(mirror)
    arrays = {}
    with tempfile.TemporaryDirectory(prefix=".mnist.", dir=target.parent) as root:
        for train, suffix in ((True, "train"), (False, "test")):
            say(f"torchvision.datasets.MNIST(train={train}, download=True)")
            try:
                ds = cls(root, train=train, download=True)
            except (RuntimeError, OSError) as err:
                first = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise PgmError(
                    f"data fetch: expected torchvision to download MNIST from "
                    f"{', '.join(cls.mirrors)}; found {first}; nothing was written "
                    "(--mirror URL fetches from another server)"
                ) from None
            arrays[f"x_{suffix}"] = ds.data.numpy().astype(np.uint8)
            arrays[f"y_{suffix}"] = ds.targets.numpy().astype(np.uint8)
    for key, array in arrays.items():
        found = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if found != checksums[key]:
            raise PgmError(
                f"data fetch: expected MNIST {key} {array.shape} with sha256 {checksums[key]}; "
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
        raise PgmError(f"data fetch: NAME: expected one of {', '.join(DATASETS)}; found {name!r}")
    folder = resolve_data_dir(data_dir)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--data-dir: expected a folder; found a file: {folder}")
    _check_mirror(mirror)
    target = folder / DATASETS[name][0]
    if target.exists() and not force:
        return target, False
    created: list[Path] = []  # the folders made here, removed again on failure
    try:
        make_folders(folder, created)
        if name == "binarized-mnist":
            table = checksums if checksums is not None else AMAT_SHA256
            _fetch_binarized_mnist(target, mirror or BINARIZED_MNIST_URL, table, say)
        else:
            _fetch_mnist(target, mirror, checksums if checksums is not None else MNIST_SHA256, say)
    except BaseException:
        remove_created(created)
        raise
    return target, True


def _check_mirror(mirror: str | None) -> None:
    """Refuse a ``--mirror`` that is not an http, https or file folder URL before any work."""
    if mirror is None:
        return
    parts = urllib.parse.urlsplit(mirror)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.path):
        raise PgmError(
            "--mirror: expected a folder URL starting http://, https:// or file://; "
            f"found {mirror!r}"
        )


# -- the command line: `pgm data fetch NAME` ---------------------------------------------------
