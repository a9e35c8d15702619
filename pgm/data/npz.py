"""Binarized MNIST (static, Larochelle & Murray 2011) and MNIST, read from ``.npz`` files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import PgmError
from ..registry import DATASETS
from ..validation import broken_link, what_is
from .dataset import ImageDataset

__all__ = [
    "check_npy_sizes",
    "check_pixels",
    "load_binarized_mnist",
    "load_image_array",
    "load_mnist",
    "resolve_data_dir",
]

_HOW_TO_GET = {
    "binarized_mnist.npz": (
        "an .npz with uint8 arrays 'train' (50000, 784) and 'valid' (10000, 784) (optionally "
        "'test'), the static binarization of Larochelle & Murray 2011"
    ),
    "mnist.npz": (
        "an .npz with uint8 arrays 'x_train' (60000, 28, 28), 'y_train', 'x_test', 'y_test' "
        "(the layout of keras.datasets.mnist)"
    ),
}

#: The name ``pgm data fetch`` knows each file by (inference/data_fetch.py).
_FETCH_NAME = {"binarized_mnist.npz": "binarized-mnist", "mnist.npz": "mnist"}


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """``data_dir`` if given, else ``$PGM_DATA_DIR``, else ``~/.pgm/data``."""
    import os

    if data_dir is None:
        data_dir = os.environ.get("PGM_DATA_DIR") or Path.home() / ".pgm" / "data"
    return Path(data_dir).expanduser()


def data_dir_source(data_dir: str | Path | None) -> str:
    """What set the data folder :func:`resolve_data_dir` gives for ``data_dir``, to name it
    in a message: ``--data-dir``, ``PGM_DATA_DIR`` or ``the default data folder``."""
    import os

    if data_dir is not None:
        return "--data-dir"
    return "PGM_DATA_DIR" if os.environ.get("PGM_DATA_DIR") else "the default data folder"


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def check_pixels(arr: np.ndarray, num_levels: int, what: str) -> None:
    """Refuse, BEFORE any cast, an array that is not integer pixels in ``{0, ..., K-1}``:
    a non-integer dtype (float, complex, strings), or a value outside the levels; the message
    names the first offending index. ``num_levels`` 0 means real-valued (finite numbers)."""
    kind = arr.dtype.kind
    expected = (
        f"integer pixels in {{0, ..., {num_levels - 1}}}" if num_levels else "finite real numbers"
    )
    if kind not in "biu" and not (num_levels == 0 and kind == "f"):
        where = ""
        if kind == "f" and arr.size:
            bad = ~np.isfinite(arr) | (arr != np.round(arr))
            bad |= (arr < 0) | (arr > num_levels - 1) if num_levels else False
            if bad.any():
                at = _first_index(bad)
                where = f", e.g. {arr[at].item()!r} at index {at}"
        raise PgmError(f"{what}: expected {expected}; found dtype {arr.dtype}{where}")
    if not arr.size:
        return
    if kind == "f":
        bad = ~np.isfinite(arr)
    elif kind == "b":
        return
    else:
        bad = (arr < 0) | (arr > num_levels - 1)
    if bad.any():
        at = _first_index(bad)
        raise PgmError(f"{what}: expected {expected}; found {arr[at].item()!r} at index {at}")


def _npy_header(handle) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(handle)
    reader = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in reader:
        raise PgmError(f"unsupported .npy format version {version}")
    shape, _, dtype = reader[version](handle)
    return shape, dtype


def check_npy_sizes(path: Path, what: str) -> None:
    """Refuse an ``.npy``/``.npz`` whose headers declare more data than the file holds (a
    header of 10^12 elements would otherwise be allocated before the short read is noticed)."""
    path = Path(path)

    def check(name: str, handle, stored: int) -> None:
        shape, dtype = _npy_header(handle)
        need = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if need > stored:
            raise PgmError(
                f"{what}: expected {f'array {name} of ' if name else ''}{path} to hold the data "
                "its header declares; "
                f"found shape {shape} of {dtype} ({need:,} bytes) in {stored:,} bytes (corrupted?)"
            )

    with path.open("rb") as handle:
        if not zipfile.is_zipfile(handle):
            handle.seek(0)
            check("", handle, path.stat().st_size)
            return
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            if not archive.infolist():
                raise PgmError(
                    f"{what}: expected an .npz archive of arrays; found {path} holding no arrays"
                )
            for info in archive.infolist():
                with archive.open(info) as member:
                    check(repr(info.filename.removesuffix(".npy")), member, info.file_size)


def load_image_array(path: str | Path, num_levels: int, what: str = "--input") -> np.ndarray:
    """Images from an ``.npy`` file or the first array of an ``.npz``, checked: readable, at
    least one array, not 0-d, and pixels in ``{0, ..., num_levels - 1}`` (see
    :func:`check_pixels`); returns the array as it is stored (no cast)."""
    path = Path(path)
    try:
        check_npy_sizes(path, what)
        with path.open("rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if hasattr(loaded, "files"):
                with loaded as f:
                    if not f.files:
                        raise PgmError("an .npz archive holding no arrays")
                    arr = f[f.files[0]]
            else:
                arr = loaded
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, MemoryError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        if str(err).startswith(f"{what}:"):
            raise
        raise PgmError(
            f"{what}: expected a readable .npy/.npz file of images; found {path} ({reason})"
        ) from None
    if arr.ndim == 0:
        raise PgmError(
            f"{what}: expected images (N, C, H, W) or one image (C, H, W); "
            f"found a 0-d array in {path}"
        )
    check_pixels(arr, num_levels, f"{what} ({path})")
    return arr


def _open_npz(data_dir: str | Path | None, filename: str) -> dict[str, np.ndarray]:
    import shlex

    folder = resolve_data_dir(data_dir)
    broken = broken_link(folder)
    if broken is not None or (folder.exists() and not folder.is_dir()):
        # else "no such file", with a fetch hint that is refused too
        bad = folder if broken is None else broken
        raise NotADirectoryError(
            f"{data_dir_source(data_dir)}: expected a folder; found {what_is(bad)}: {bad}"
        )
    path = folder / filename
    if path.exists() and not path.is_file():
        raise IsADirectoryError(
            f"data: expected {path} to be a file, {_HOW_TO_GET[filename]}; found a folder"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"data: expected {path}, {_HOW_TO_GET[filename]}; found no such file (`pgm data "
            f"fetch {_FETCH_NAME[filename]} --data-dir {shlex.quote(str(path.parent))}` "
            "downloads it, or point "
            "--data-dir / PGM_DATA_DIR at the folder holding it)"
        )
    try:
        # our own handle: np.load leaks the one it opens when the zip archive is corrupted
        check_npy_sizes(path, "data")
        with path.open("rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if not hasattr(loaded, "files"):  # np.load returns a bare array for a .npy file
                raise PgmError("a single .npy array, not an .npz archive")
            with loaded as f:
                return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, MemoryError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        if reason.startswith("data:"):
            raise
        raise PgmError(
            f"data: {path} is not a readable .npz archive: expected a zip of .npy arrays; "
            f"found a corrupted or different file ({reason})"
        ) from None


def _need(arrays: dict[str, np.ndarray], key: str, filename: str, split: str) -> np.ndarray:
    if key not in arrays:
        raise PgmError(
            f"split {split!r}: {filename} has no array {key!r} (it has {sorted(arrays)})"
        )
    return arrays[key]


def load_binarized_mnist(split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """Static binarized MNIST: ``(N, 1, 28, 28)`` in {0, 1}, no labels."""
    name = "binarized_mnist.npz"
    arrays = _open_npz(data_dir, name)
    flat = _need(arrays, split, name, split)
    if flat.ndim != 2 or flat.shape[1] != 784:
        raise PgmError(
            f"{name}[{split!r}]: expected (N, 784) values in {{0, 1}}; found shape {flat.shape}"
        )
    if flat.size and flat.dtype.kind in "iu" and (flat.min() < 0 or flat.max() > 1):
        raise PgmError(
            f"{name}[{split!r}]: expected (N, 784) values in {{0, 1}}; found values from "
            f"{flat.min()} to {flat.max()}"
        )
    check_pixels(flat, 2, f"{name}[{split!r}]")
    x = torch.from_numpy(flat.astype(np.uint8)).view(-1, 1, 28, 28)
    return ImageDataset("binarized-mnist", split, x, 2, None)


def load_mnist(split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """MNIST with 256 grey levels: ``(N, 1, 28, 28)``; valid is the last 10,000 training images."""
    name = "mnist.npz"
    arrays = _open_npz(data_dir, name)
    if split == "test":
        x, y = _need(arrays, "x_test", name, split), _need(arrays, "y_test", name, split)
    else:
        x, y = _need(arrays, "x_train", name, split), _need(arrays, "y_train", name, split)
        x, y = (x[:-10000], y[:-10000]) if split == "train" else (x[-10000:], y[-10000:])
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise PgmError(f"{name}[{split!r}]: expected (N, 28, 28); found shape {x.shape}")
    check_pixels(x, 256, f"{name}[{split!r}]")
    check_pixels(y, 10, f"{name}[{split!r}] labels")
    images = torch.from_numpy(x.astype(np.uint8)).unsqueeze(1)
    return ImageDataset("mnist", split, images, 256, torch.from_numpy(y.astype(np.int64)))


@DATASETS.register("binarized-mnist", "static binarized MNIST (Larochelle & Murray), from .npz")
def _binarized_mnist(split: str, data_dir=None, download: bool = False) -> ImageDataset:
    return load_binarized_mnist(split, data_dir)


@DATASETS.register("mnist", "MNIST with 256 grey levels, from .npz")
def _mnist(split: str, data_dir=None, download: bool = False) -> ImageDataset:
    return load_mnist(split, data_dir)
