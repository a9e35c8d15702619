"""The PNG output of ``sample`` and ``complete``: its path checked before anything runs, its
writing refused in one line, and the memory a grid of images needs checked up front."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["check_image_memory", "png_out", "write_png"]


def png_out(out: str | None, default: Path) -> Path:
    """The PNG path of ``sample``/``complete``, checked before anything runs."""
    from inference.out_path import check_file_out  # never a run's own files or checkpoints

    from .errors import UsageError

    if out is None:
        return default
    path = check_file_out(out)
    if path.is_dir():
        raise UsageError(f"--out: expected a PNG file path; found a folder: {path}")
    if path.suffix.lower() != ".png" or str(out).endswith(("/", os.sep)):
        # PNG bytes under a .jpg name, or a file where "dir/" meant a folder, said nothing
        found = (
            "a folder path"
            if str(out).endswith(("/", os.sep))
            else repr(path.suffix or "no suffix")
        )
        raise UsageError(f"--out: expected a PNG file path (.png); found {found}: {out}")
    return path


def write_png(save, out: Path) -> None:
    from inference.out_path import os_error_text

    from .errors import UsageError

    try:
        save()
    except OSError as err:
        raise UsageError(
            f"--out: expected a writable file path; found {out} refused ({os_error_text(err)})"
        ) from None


def check_image_memory(count: int, model, argument: str, shown: int, scale=None) -> None:
    """The images drawn, the network's activations and the upscaled grid of ``shown`` images,
    checked against the memory available before anything is drawn."""
    from evaluation.images import check_image_memory as check

    check(count, shown, tuple(model.event_shape), argument, scale)
