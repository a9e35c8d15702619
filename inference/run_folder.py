"""A run folder: the files a run holds, and how a writer checks, creates, locks and, when a
new run fails before its first checkpoint, removes it again.

::

    RUN/config.json          the resolved config, written before training
    RUN/metrics.jsonl        one JSON line per epoch
    RUN/checkpoints/         epoch-XXXXX.safetensors: everything the next epoch depends on
    RUN/model.safetensors    the best weights on the valid split, at the end
    RUN/tensorboard/         with logger = "tensorboard"

A folder is only ever in a state a resume can continue from: ``config.json`` comes first, and
a run holding no checkpoint yet is removed when it fails (Ctrl-C too), so bad input leaves
nothing behind and a rerun of the same command is never blocked.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .atomic_write import atomic_write_text
from .checkpoint import remove_stale_temporaries
from .checkpoint_meta import sorted_checkpoints
from .config import ConfigError
from .fingerprint import check_same_run
from .out_path import enclosing_run, make_folders, remove_created, what_is
from .run_lock import RunLock

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "METRICS_FILE",
    "TENSORBOARD_DIR",
    "WEIGHTS_FILE",
    "RunFolder",
    "MAX_RUN_TEXT_BYTES",
    "check_recorded_plugins",
    "read_json_object",
    "read_run_text",
]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"


#: The most a run's text file (config.json, metrics.jsonl, an evaluation record) may hold: a
#: config is about 1 KB and a metrics line 200 bytes, so this is room for 100,000s of epochs.
MAX_RUN_TEXT_BYTES = 64 << 20


def read_run_text(path: str | Path, flag: str, limit: int = MAX_RUN_TEXT_BYTES) -> str:
    """The text of a run's file, read only when it is a regular file (through links) of at
    most ``limit`` bytes: a ``config.json`` linked to ``/dev/zero`` or made a FIFO hung the
    command (or filled memory), and a huge one was read whole. Refusals are one line naming
    ``flag``; a missing or unreadable file raises its ``OSError``; bad UTF-8 its
    ``UnicodeDecodeError``."""
    path = Path(path)
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{flag}: expected {path} to be a regular file; found {what_is(path)}")
    with path.open("rb") as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise ConfigError(
            f"{flag}: expected {path} of at most {limit:,} bytes (a run's own file); found more"
        )
    return raw.decode("utf-8")


def check_recorded_plugins(run: str | Path) -> None:
    """Before anything can import a named plug-in, compare the plug-ins ``run``'s config.json
    records with what the user named (by sha256), reading only that file: a changed plug-in is
    refused before any of its code runs. A run without a readable config.json is left to the
    command's own one-line refusal when it opens the run."""
    from pgm.run_plugins import check_before_import

    try:
        cfg = json.loads(read_run_text(Path(run) / CONFIG_FILE, "run"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return
    if isinstance(cfg, dict) and cfg.get("plugins"):
        check_before_import(cfg["plugins"], "run", f"run {run}")


def read_json_object(path: str | Path, flag: str) -> dict:
    """The JSON object in ``path``; a missing, unreadable, corrupted, absurdly nested, too large
    or non-object file (or not a regular one) is refused in one line naming ``flag`` and the
    file."""
    path = Path(path)
    try:
        text = read_run_text(path, flag)  # its own refusals (not a file, too large) as they are
        value = json.loads(text)
    except ConfigError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ConfigError(
            f"{flag}: expected JSON in {path}; found a corrupted file ({reason})"
        ) from None
    except OSError as err:
        raise ConfigError(
            f"{flag}: expected a readable file {path}; found it unreadable ({err.strerror or err})"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: expected a JSON object in {path}; found {type(value).__name__}")
    return value


class RunFolder:
    """The folder ``path`` of one run, and the paths of the files it holds."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def config(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS_FILE

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD_DIR

    def checkpoint(self, epoch: int) -> Path:
        """The checkpoint written at the end of ``epoch``."""
        return self.checkpoints / f"epoch-{epoch:05d}.safetensors"

    def latest_checkpoint(self) -> Path | None:
        found = sorted_checkpoints(self.checkpoints)
        return found[-1] if found else None

    def check(self, cfg: dict, resume: bool) -> bool:
        """Check the folder before anything is written; True when it holds a run to continue
        (with ``resume``, whose ``config.json`` differs from ``cfg`` in nothing but session
        keys and a grown ``epochs``)."""
        run = self.path
        if run.exists() and not run.is_dir():
            raise ConfigError(f"--out: expected a folder for the run; found {what_is(run)}: {run}")
        for form in (run.absolute(), run.resolve()):  # as written, and through links
            host = enclosing_run(form.parent)
            if host is not None:
                raise ConfigError(
                    f"--out: expected a folder apart from any other run; found {run}, inside the "
                    f"run {host} (its files would mix with that run's own; choose another folder)"
                )
        if self.checkpoints.is_symlink():  # training would write and prune another folder
            raise ConfigError(
                f"--out: expected {self.checkpoints} to be the run's own folder; found a link to "
                f"{os.readlink(self.checkpoints)} (training there would write, and delete, "
                "checkpoints that are not this run's: replace the link by a copy)"
            )
        has_checkpoints = self.checkpoints.exists()
        if has_checkpoints and not self.checkpoints.is_dir():
            raise ConfigError(
                f"--out: expected {self.checkpoints} to be a folder of checkpoints; found "
                f"{what_is(self.checkpoints)}"
            )
        if not resume and (self.config.exists() or has_checkpoints):
            raise ConfigError(
                f"--out: expected a new folder; found {run} already holding a run (pass --resume "
                "to continue it, or choose another folder)"
            )
        if not self.config.exists():
            # pgm writes config.json first: any of its other files without it are someone else's
            others = [n for n in (CHECKPOINT_DIR, METRICS_FILE, WEIGHTS_FILE) if (run / n).exists()]
            if others:
                flag = "--resume" if resume else "--out"
                raise ConfigError(
                    f"{flag}: expected a new folder or a run written by pgm; found {run} holding "
                    f"{', '.join(others)} but no {CONFIG_FILE}, which pgm would overwrite (move "
                    "them away, or choose another folder)"
                )
            return False  # new, or killed before it wrote anything: resuming is starting
        if not resume:
            return False
        saved = read_json_object(self.config, "--resume")
        check_same_run({"config": saved}, cfg, None, "--resume", CONFIG_FILE)
        return True

    def write_config(self, cfg: dict) -> None:
        """Record ``cfg`` as the run's config (atomically), unless it already is."""
        text = json.dumps(cfg, indent=2) + "\n"
        if not (self.config.is_file() and json.loads(self.config.read_text()) == cfg):
            atomic_write_text(self.config, text)

    @contextmanager
    def open(self, cfg: dict, resume: bool) -> Iterator[bool]:
        """Hold the folder for writing a run of ``cfg``; yields True when it resumes one.

        The folder (and its missing parents) is created and locked (one writer at a time),
        checked again under the lock, and then a new run's ``config.json`` is written, or a
        resumed run's stale temporaries are cleared. When the body fails (Ctrl-C too) before
        a new run's first checkpoint, the folder is left as it was found: a ``config.json``
        alone would block rerunning the command. Once a checkpoint exists, everything stays.
        """
        created = _create_folders(self.path)
        try:
            lock = RunLock(self.path)
        except BaseException:
            remove_created(created)
            raise
        checked = resuming = False
        try:
            # again, now that no other process can write here: it may have made it a run
            resuming = self.check(cfg, resume)
            checked = True
            if resuming:
                remove_stale_temporaries(self.path)
                remove_stale_temporaries(self.checkpoints)
            else:
                self.write_config(cfg)
            yield resuming
        except BaseException:
            # only files this run wrote are removed (a new run never starts in a folder
            # holding any)
            if checked and not resuming and not sorted_checkpoints(self.checkpoints):
                for path in (self.config, self.metrics):
                    path.unlink(missing_ok=True)
                remove_created([self.checkpoints] if self.checkpoints.is_dir() else [])
                lock.release(remove=lock.created)
                remove_created(created)
            raise
        finally:
            lock.release(remove=lock.created)


def _create_folders(run: Path) -> list[Path]:
    """Create ``run`` and its missing parents; returns those created (to undo on failure).
    A path under a regular file, on a read-only or virtual file system, is refused by name."""
    created: list[Path] = []
    try:
        make_folders(run, created)
        probe_file = run / f".pgm-write-test.{os.getpid()}.tmp"  # cleared on resume if killed here
        # created exclusively, never through a link left at that name
        os.close(os.open(probe_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        probe_file.unlink()
    except OSError as err:
        remove_created(created)
        raise ConfigError(
            f"--out: expected a folder that can be created and written; found {run} refused "
            f"({err.strerror or type(err).__name__})"
        ) from None
    return created
