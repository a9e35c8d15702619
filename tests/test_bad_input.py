"""Every bad input is explained: one line naming the argument, what was expected and what was
found; the CLI exits with status 2 and no traceback, and leaves no partial output behind.

The cases are a table; each runs the CLI in-process (``pgm_cli.main.main``), and a few run
the real console entry point in a subprocess. Python-API cases check the exception's text.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

import pgm
from evaluation.log_likelihood import estimate
from inference import ConfigError, fit_model, load_run, train
from pgm.data import ImageDataset
from pgm_cli.main import main

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "data": "digits",
    "model": "vae",
    "latent_dim": 2,
    "hidden_dim": 16,
    "epochs": 1,
    "batch_size": 50,
    "num_train": 50,
    "device": "cpu",
}


def toml(settings: dict) -> str:
    def value(v):
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v)

    return "".join(f"{k} = {value(v)}\n" for k, v in settings.items())


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes (empty when it does not exist)."""
    if not folder.exists():
        return {}
    if folder.is_file():
        return {".": hashlib.sha256(folder.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A finished tiny run, copied by the cases that need one."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(TINY, run, progress=False)
    return run


class Evil:
    """Unpickling this creates a folder: the proof, if it ever exists, that a payload ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


# -- the CLI table ---------------------------------------------------------------------------
@dataclass
class Case:
    """A CLI invocation ``argv(tmp)``; ``setup(tmp, run)`` prepares files first; the output must
    name ``argument`` and contain every string in ``says``; ``guarded`` (relative to tmp) must be
    the same before and after (a folder that did not exist must still not exist)."""

    id: str
    argv: Callable[[Path], list[str]]
    argument: str
    says: list[str] = field(default_factory=list)
    setup: Callable[[Path, Path], None] | None = None
    guarded: str = "out"


def _config(tmp: Path, **changes) -> str:
    settings = {**TINY, **changes}
    settings = {k: v for k, v in settings.items() if v is not None}
    path = tmp / "config.toml"
    path.write_text(toml(settings))
    return str(path)


def _train(tmp: Path, *extra: str, **changes) -> list[str]:
    return ["train", _config(tmp, **changes), "--out", str(tmp / "out"), "--no-progress", *extra]


def _text(tmp: Path, name: str, text: str) -> Path:
    (tmp / name).write_text(text)
    return tmp / name


def _copy_run(tmp: Path, run: Path) -> None:
    shutil.copytree(run, tmp / "out")


def _truncate_weights(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    path = tmp / "out" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])


def _torch_save_weights(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    torch.save({"w": Evil(tmp / "PAYLOAD-RAN")}, tmp / "out" / "model.safetensors")


def _pickle_weights(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    (tmp / "out" / "model.safetensors").write_bytes(
        pickle.dumps(Evil(tmp / "PAYLOAD-RAN"), protocol=2)
    )


def _foreign_weights(tmp: Path, run: Path) -> None:
    from safetensors.torch import save_file

    _copy_run(tmp, run)
    save_file({"weight": torch.zeros(3)}, str(tmp / "out" / "model.safetensors"))


def _corrupt_checkpoint(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    (tmp / "out" / "model.safetensors").unlink()
    (ckpt,) = sorted((tmp / "out" / "checkpoints").glob("epoch-*.safetensors"))
    ckpt.write_bytes(ckpt.read_bytes()[: len(ckpt.read_bytes()) // 3])


def _torch_save_checkpoint(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    (tmp / "out" / "model.safetensors").unlink()
    (ckpt,) = sorted((tmp / "out" / "checkpoints").glob("epoch-*.safetensors"))
    torch.save({"model": Evil(tmp / "PAYLOAD-RAN")}, ckpt)


def _data_dir(tmp: Path, content: bytes | None = None, arrays: dict | None = None) -> Path:
    folder = tmp / "data"
    folder.mkdir(exist_ok=True)
    if content is not None:
        (folder / "binarized_mnist.npz").write_bytes(content)
    if arrays is not None:
        np.savez(folder / "binarized_mnist.npz", **arrays)
    return folder


def _bmnist(tmp: Path, **data_dir_kwargs) -> list[str]:
    folder = _data_dir(tmp, **data_dir_kwargs)
    return _train(tmp, "--data-dir", str(folder), data="binarized-mnist")


CASES = [
    Case(
        "config-missing",
        lambda t: ["train", str(t / "nope.toml"), "--out", str(t / "out")],
        "config",
        ["expected a TOML file", "no such file"],
    ),
    Case(
        "config-is-a-folder",
        lambda t: ["train", str(t), "--out", str(t / "out")],
        "config",
        ["expected a TOML file", "a folder"],
    ),
    Case(
        "config-malformed",
        lambda t: ["train", str(_write(t / "bad.toml", "model = \n")), "--out", str(t / "out")],
        "config",
        ["expected valid TOML", "syntax error"],
    ),
    Case(
        "config-not-utf8",
        lambda t: ["train", str(_write(t / "bin.toml", b"\xff\xfe\x00")), "--out", str(t / "out")],
        "config",
        ["expected UTF-8", "undecodable"],
    ),
    Case(
        "config-absent",
        lambda t: ["train", "--out", str(t / "out")],
        "config",
        ["expected a TOML config file", "found none"],
    ),
    Case(
        "unknown-key",
        lambda t: _train(t, epoch=3),
        "config",
        ["expected keys among", "found unknown key(s) 'epoch' (did you mean 'epochs'?)"],
    ),
    Case(
        "unknown-model",
        lambda t: _train(t, model="gan"),
        "model",
        ["expected one of", "vae", "found 'gan'"],
    ),
    Case(
        # a key of the model meant (a plug-in's, say) was refused as unknown first, with every
        # declared key listed, before the cause: the model name
        "unknown-model-with-a-key-of-its-own",
        lambda t: _train(t, model="evil", evil_depth=3),
        "model",
        ["expected one of", "vae", "found 'evil'"],
    ),
    Case(
        # likewise a part: a key of the prior meant was refused as unknown first
        "unknown-prior-with-a-key-of-its-own",
        lambda t: _train(t, prior="flowy", flowy_depth=3),
        "prior",
        ["expected one of", "vamp", "found 'flowy'"],
    ),
    Case(
        "prior-not-a-string-with-a-key-of-its-own",
        lambda t: _train(t, prior=["vamp"], vamp_depth=2),
        "prior",
        ["expected one of", "vamp", "found ['vamp']"],
    ),
    Case(
        "model-not-a-string-with-a-key-of-its-own",
        lambda t: _train(t, model=5, evil_depth=3),
        "model",
        ["expected one of", "vae", "found 5"],
    ),
    Case(
        "unknown-prior",
        lambda t: _train(t, prior="gaussian"),
        "prior",
        ["expected one of", "vamp", "found 'gaussian'"],
    ),
    Case(
        "unknown-guide",
        lambda t: _train(t, guide="flow-guide"),
        "guide",
        ["expected one of", "diagonal-normal", "found 'flow-guide'"],
    ),
    Case(
        "unknown-likelihood",
        lambda t: _train(t, likelihood="poisson"),
        "likelihood",
        ["expected one of", "bernoulli", "found 'poisson'"],
    ),
    Case(
        "unknown-dataset",
        lambda t: _train(t, data="imagenet"),
        "data",
        ["expected one of", "digits", "found 'imagenet'"],
    ),
    Case(
        "unknown-elbo",
        lambda t: _train(t, elbo="vimco"),
        "elbo",
        ["expected one of", "iwae", "found 'vimco'"],
    ),
    Case(
        "unknown-device",
        lambda t: _train(t, device="tpu"),
        "device",
        ["expected one of", "cpu", "found 'tpu'"],
    ),
    Case(
        "batch-size-zero",
        lambda t: _train(t, batch_size=0),
        "batch_size",
        ["expected an integer >= 1", "found 0"],
    ),
    Case(
        "epochs-many",
        lambda t: _train(t, epochs="many"),
        "epochs",
        ["expected an integer", "found 'many'"],
    ),
    Case(
        "epochs-float",
        lambda t: _train(t, epochs=2.5),
        "epochs",
        ["expected an integer", "found 2.5"],
    ),
    Case(
        "epochs-many-set",
        lambda t: _train(t, "--set", "epochs=many"),
        "epochs",
        ["expected an integer", "found 'many'"],
    ),
    Case(
        "lr-negative", lambda t: _train(t, lr=-0.1), "lr", ["expected a number > 0", "found -0.1"]
    ),
    Case(
        "num-train-negative",
        lambda t: _train(t, num_train=-5),
        "num_train",
        ["expected an integer >= 0", "found -5"],
    ),
    Case(
        "latent-dim-zero",
        lambda t: _train(t, latent_dim=0),
        "latent_dim",
        ["expected an integer >= 1", "found 0"],
    ),
    Case(
        "keep-checkpoints-zero",
        lambda t: _train(t, keep_checkpoints=0),
        "keep_checkpoints",
        ["expected an integer >= 1", "found 0"],
    ),
    Case(
        "num-particles-zero-config",
        lambda t: _train(t, num_particles=0),
        "num_particles",
        ["expected an integer >= 1", "found 0"],
    ),
    Case(
        "config-a-fifo",  # was: "found no such file"
        lambda t: ["train", str(t / "c.toml"), "--out", str(t / "out")],
        "config",
        ["expected a TOML file; found a FIFO"],
        setup=lambda t, run: os.mkfifo(t / "c.toml"),
    ),
    Case(
        "evaluate-one-image",  # was: "values: expected ... at least 2" after the whole estimate
        lambda t: ["evaluate", str(t / "out"), "--num-images", "1", "--no-progress"],
        "argument --num-images",
        ["expected an integer >= 2", "found 1"],
        setup=_copy_run,
    ),
    Case(
        "toml-nested-deeply",  # was: RecursionError with a traceback (tomllib)
        lambda t: [
            "train",
            str(_text(t, "deep.toml", "a = " + "[" * 5000 + "]" * 5000)),
            "--out",
            str(t / "out"),
        ],
        "config",
        ["nested too deeply"],
    ),
    Case(
        "toml-dotted-keys-deeply",  # was: RecursionError with a traceback (deepcopy)
        lambda t: [
            "train",
            str(_text(t, "dots.toml", "x." * 3000 + "y = 1")),
            "--out",
            str(t / "out"),
        ],
        "config",
        ["expected settings nested at most 32 deep", "found 'x'"],
    ),
    Case(
        "model-a-list",  # was: TypeError: unhashable type: 'list' (a traceback)
        lambda t: _train(t, "--set", "model=[1]"),
        "model",
        ["expected one of", "found [1]"],
    ),
    Case(
        "model-a-table",
        lambda t: _train(t, "--set", "model={}"),
        "model",
        ["expected one of", "found {}"],
    ),
    Case(
        "set-without-equals",
        lambda t: _train(t, "--set", "lr"),
        "--set",
        ["expected key=value", "found 'lr'"],
    ),
    Case(
        "levels-mismatch",
        lambda t: _train(t, num_levels=2),
        "num_levels",
        ["expected 17", "'digits'", "found 2"],
    ),
    Case(
        "shape-mismatch",
        lambda t: _train(t, image_shape=[1, 28, 28]),
        "image_shape",
        ["expected [1, 8, 8]", "found [1, 28, 28]"],
    ),
    Case(
        "npz-missing",
        lambda t: _bmnist(t),
        "data",
        ["expected", "binarized_mnist.npz", "found no such file"],
    ),
    Case(
        "npz-corrupted",
        lambda t: _bmnist(t, content=b"PK\x03\x04 this is not a zip archive"),
        "data",
        ["is not a readable .npz archive: expected a zip of .npy arrays; found a corrupted"],
    ),
    Case(
        "npz-wrong-arrays",
        lambda t: _bmnist(
            t, arrays={"train": np.zeros((10, 5), np.uint8), "valid": np.zeros((10, 5), np.uint8)}
        ),
        "binarized_mnist.npz['train']",
        ["expected (N, 784)", "found shape (10, 5)"],
    ),
    Case(
        "npz-outside-support",
        lambda t: _bmnist(
            t,
            arrays={
                "train": np.full((10, 784), 2, np.uint8),
                "valid": np.zeros((10, 784), np.uint8),
            },
        ),
        "binarized_mnist.npz['train']",
        ["expected (N, 784) values in {0, 1}", "found values from 2 to 2"],
    ),
    Case(
        "npz-empty-split",
        lambda t: _bmnist(
            t,
            arrays={"train": np.zeros((0, 784), np.uint8), "valid": np.zeros((10, 784), np.uint8)},
        ),
        "train data",
        ["expected a non-empty batch (N, 1, 28, 28)", "found 0 images"],
    ),
    Case(
        "out-under-a-file",
        lambda t: _train(t, "--out", str(_write(t / "afile", "x") / "run")),
        "--out",
        ["expected a folder that can be created", "found"],
        guarded="afile",
    ),
    Case(
        "out-is-a-file",
        lambda t: _train(t, "--out", str(_write(t / "afile", "x"))),
        "--out",
        ["expected a folder for the run", "found a file"],
        guarded="afile",
    ),
    Case(
        "out-in-proc",
        lambda t: _train(t, "--out", "/proc/pgm-test-run/run"),
        "--out",
        ["expected a folder that can be created", "found /proc/pgm-test-run/run refused"],
    ),
    Case(
        "out-holds-a-run",
        lambda t: _train(t),
        "--out",
        ["expected a new folder", "already holding a run", "--resume"],
        setup=_copy_run,
    ),
    Case(
        "resume-other-config",
        lambda t: _train(t, "--resume", lr=0.5),
        "--resume",
        ["expected the run's own config", "lr (run has 0.001, given 0.5)"],
        setup=_copy_run,
    ),
    Case(
        "resume-nothing-no-config",
        lambda t: ["train", "--out", str(t / "out"), "--resume"],
        "config",
        ["expected a TOML file, or --resume", "found neither"],
    ),
    Case(
        "resume-truncated-checkpoint",
        lambda t: _train(t, "--resume", epochs=2),
        "",
        ["epoch-00001.safetensors", "expected a complete pgm safetensors file", "truncated"],
        setup=_corrupt_checkpoint,
    ),
    Case(
        "resume-torch-save-checkpoint",
        lambda t: _train(t, "--resume", epochs=2),
        "",
        ["epoch-00001.safetensors", "found a pickle or torch.save file, refused unread"],
        setup=_torch_save_checkpoint,
    ),
    Case(
        "evaluate-missing-run",
        lambda t: ["evaluate", str(t / "out")],
        "run",
        ["expected a run folder", "found no such folder"],
    ),
    Case(
        "evaluate-not-a-run",
        lambda t: ["evaluate", str(t / "out")],
        "run",
        ["expected", "config.json", "found none"],
        setup=lambda t, r: (t / "out").mkdir(),
    ),
    Case(
        "evaluate-unfinished-run",
        lambda t: ["evaluate", str(t / "out")],
        "run",
        ["expected", "model.safetensors", "found none", "--resume"],
        setup=lambda t, r: (_copy_run(t, r), (t / "out" / "model.safetensors").unlink()),
    ),
    Case(
        "evaluate-truncated-weights",
        lambda t: ["evaluate", str(t / "out"), "-k", "2"],
        "",
        ["model.safetensors", "expected a complete pgm safetensors file", "truncated"],
        setup=_truncate_weights,
    ),
    Case(
        "evaluate-torch-save-weights",
        lambda t: ["evaluate", str(t / "out"), "-k", "2"],
        "",
        ["model.safetensors", "found a pickle or torch.save file, refused unread"],
        setup=_torch_save_weights,
    ),
    Case(
        "sample-pickle-weights",
        lambda t: ["sample", str(t / "out"), "--out", str(t / "grid.png")],
        "",
        ["model.safetensors", "refused unread"],
        setup=_pickle_weights,
    ),
    Case(
        "evaluate-foreign-safetensors",
        lambda t: ["evaluate", str(t / "out"), "-k", "2"],
        "",
        ["model.safetensors", "expected a file written by pgm", "found format None"],
        setup=_foreign_weights,
    ),
    Case(
        "evaluate-num-particles-zero",
        lambda t: ["evaluate", str(t / "out"), "--num-particles", "0"],
        "argument --num-particles/-k",
        ["expected a positive integer", "found 0"],
    ),
    Case(
        "evaluate-num-particles-text",
        lambda t: ["evaluate", str(t / "out"), "-k", "many"],
        "argument --num-particles/-k",
        ["expected a positive integer", "found 'many'"],
    ),
    Case(
        "sample-n-zero",
        lambda t: ["sample", str(t / "out"), "-n", "0"],
        "argument -n",
        ["expected a positive integer", "found 0"],
    ),
    Case(
        "unknown-split",
        lambda t: ["evaluate", str(t / "out"), "--split", "dev"],
        "argument --split",
        ["invalid choice", "'dev'"],
    ),
    Case(
        "unknown-command",
        lambda t: ["fit", str(t / "out")],
        "argument COMMAND",
        ["invalid choice", "'fit'"],
    ),
    Case(
        "complete-missing-input",
        lambda t: [
            "complete",
            str(t / "out"),
            "--input",
            str(t / "none.npy"),
            "--out",
            str(t / "c.png"),
        ],
        "--input",
        ["expected a split name", "found"],
        setup=_copy_run,
        guarded="c.png",
    ),
]


# -- hostile inputs ---------------------------------------------------------------------------
def _mnist(tmp: Path, x_train: np.ndarray) -> list[str]:
    """mnist.npz holding ``x_train`` (and uint8 x_test, labels) in tmp/data."""
    folder = tmp / "data"
    folder.mkdir(exist_ok=True)
    n = x_train.shape[0]
    np.savez(
        folder / "mnist.npz",
        x_train=x_train,
        y_train=np.zeros(n, np.uint8),
        x_test=np.zeros((10, 28, 28), np.uint8),
        y_test=np.zeros(10, np.uint8),
    )
    return _train(tmp, "--data-dir", str(folder), data="mnist")


def _mnist_with(dtype, at: tuple[int, int, int], value) -> Callable[[Path], list[str]]:
    def argv(tmp: Path) -> list[str]:
        x = np.zeros((10_010, 28, 28), dtype)
        x[at] = value
        return _mnist(tmp, x)

    return argv


def _bmnist_train(values: np.ndarray) -> Callable[[Path], list[str]]:
    return lambda t: _bmnist(t, arrays={"train": values, "valid": np.zeros((10, 784), np.uint8)})


def _half(dtype=np.float64, value=0.5) -> np.ndarray:
    x = np.zeros((10, 784), dtype)
    x[3, 17] = value
    return x


def _npy_header(path: Path, shape: tuple, descr: str = "|u1") -> Path:
    """An .npy file whose header declares ``shape`` and that holds no data."""
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": descr, "fortran_order": False, "shape": shape}
        )
    return path


def _npz_header_huge(tmp: Path) -> list[str]:
    import zipfile

    folder = _data_dir(tmp)
    npy = _npy_header(tmp / "train.npy", (10**9, 784))
    with zipfile.ZipFile(folder / "binarized_mnist.npz", "w") as archive:
        archive.write(npy, "train.npy")
        archive.writestr("valid.npy", b"")
    npy.unlink()
    return _train(tmp, "--data-dir", str(folder), data="binarized-mnist")


def _complete_input(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda t: [
        "complete",
        str(t / "out"),
        "--input",
        str(make(t)),
        "--out",
        str(t / "c.png"),
    ]


def _save(name: str, array) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        np.save(tmp / name, array)
        return tmp / name

    return make


def _empty_npz(tmp: Path) -> Path:
    np.savez(tmp / "empty.npz")
    return tmp / "empty.npz"


def _user_file(name: str, content: bytes = b"the user's own") -> Callable[[Path, Path], None]:
    def setup(tmp: Path, run: Path) -> None:
        (tmp / "out").mkdir()
        (tmp / "out" / name).write_bytes(content)

    return setup


def _resume_config_nested(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    (tmp / "out" / "config.json").write_text("[" * 100_000)


def _weights_metadata_nested(tmp: Path, run: Path) -> None:
    from safetensors.torch import save_file

    from inference.checkpoint import load_tensors

    _copy_run(tmp, run)
    tensors, _ = load_tensors(tmp / "out" / "model.safetensors")
    save_file(tensors, str(tmp / "out" / "model.safetensors"), metadata={"pgm": "[" * 100_000})


def _metrics(text: str) -> Callable[[Path, Path], None]:
    def setup(tmp: Path, run: Path) -> None:
        _copy_run(tmp, run)
        (tmp / "out" / "metrics.jsonl").write_text(text)

    return setup


def _weights(change: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    def setup(tmp: Path, run: Path) -> None:
        from inference.checkpoint import load_tensors, save_tensors

        _copy_run(tmp, run)
        tensors, meta = load_tensors(tmp / "out" / "model.safetensors")
        change(tensors)
        save_tensors(tmp / "out" / "model.safetensors", tensors, meta)

    return setup


def _nan_weights(tensors: dict) -> None:
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = torch.full_like(tensors[name], math.nan)


def _int8_weights(tensors: dict) -> None:
    for k, v in tensors.items():
        tensors[k] = v.to(torch.int8)


def _checkpoints_a_file(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    (tmp / "out" / "model.safetensors").unlink()
    shutil.rmtree(tmp / "out" / "checkpoints")
    (tmp / "out" / "checkpoints").write_text("not a folder")


def _weights_a_folder(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    (tmp / "out" / "model.safetensors").unlink()
    (tmp / "out" / "model.safetensors").mkdir()


def _npz_a_folder(tmp: Path) -> list[str]:
    folder = _data_dir(tmp)
    (folder / "binarized_mnist.npz").mkdir()
    return _train(tmp, "--data-dir", str(folder), data="binarized-mnist")


def _copy_run_and_file(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    _write(tmp / "afile", "x")


def _copy_run_and_folder(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    (tmp / "folder").mkdir()


HOSTILE = [
    # data that is not what it claims (checked before any cast; the first offending index named)
    Case(
        "npz-float-pixels",
        _mnist_with(np.float32, (3, 4, 5), 0.5),
        "mnist.npz['train']",
        [
            "expected integer pixels in {0, ..., 255}",
            "found dtype float32, e.g. 0.5 at index (3, 4, 5)",
        ],
    ),
    Case(
        "npz-float-integral-pixels",
        _mnist_with(np.float32, (3, 4, 5), 1.0),
        "mnist.npz['train']",
        ["expected integer pixels in {0, ..., 255}", "found dtype float32"],
    ),
    Case(
        "npz-int16-300",
        _mnist_with(np.int16, (2, 7, 9), 300),
        "mnist.npz['train']",
        ["expected integer pixels in {0, ..., 255}", "found 300 at index (2, 7, 9)"],
    ),
    Case(
        "npz-negative",
        _mnist_with(np.int16, (5, 0, 1), -1),
        "mnist.npz['train']",
        ["expected integer pixels in {0, ..., 255}", "found -1 at index (5, 0, 1)"],
    ),
    Case(
        "npz-binarized-half",
        _bmnist_train(_half()),
        "binarized_mnist.npz['train']",
        [
            "expected integer pixels in {0, ..., 1}",
            "found dtype float64, e.g. 0.5 at index (3, 17)",
        ],
    ),
    Case(
        "npz-nan",
        _bmnist_train(_half(value=math.nan)),
        "binarized_mnist.npz['train']",
        ["expected integer pixels in {0, ..., 1}", "e.g. nan at index (3, 17)"],
    ),
    Case(
        "npz-complex",
        _bmnist_train(_half(np.complex128, 1 + 2j)),
        "binarized_mnist.npz['train']",
        ["expected integer pixels", "found dtype complex128"],
    ),
    # other people's files: refused, never overwritten or deleted
    Case(
        "out-holds-foreign-weights",
        lambda t: _train(t),
        "--out",
        [
            "expected a new folder or a run written by pgm",
            "holding model.safetensors but no config.json",
        ],
        setup=_user_file("model.safetensors"),
    ),
    Case(
        "out-holds-user-metrics",
        lambda t: _train(t),
        "--out",
        ["holding metrics.jsonl but no config.json"],
        setup=_user_file("metrics.jsonl"),
    ),
    Case(
        "resume-foreign-weights",
        lambda t: _train(t, "--resume"),
        "--resume",
        ["holding model.safetensors but no config.json"],
        setup=_user_file("model.safetensors"),
    ),
    Case(
        "lr-inf-keeps-user-metrics",
        lambda t: _train(t, lr=math.inf),
        "lr",
        ["expected a finite number", "found inf"],
        setup=_user_file("metrics.jsonl"),
    ),
    # half-written reports: inputs checked before anything is created
    Case(
        "compare-out-is-a-file",
        lambda t: ["compare", str(t / "out"), "--out", str(t / "afile")],
        "--out",
        ["expected a folder; found a file"],
        setup=_copy_run_and_file,
        guarded="afile",
    ),
    Case(
        "compare-missing-run-creates-nothing",
        lambda t: ["compare", str(t / "missing"), "--out", str(t / "rep")],
        "run",
        ["expected a run folder", "found no such folder"],
        guarded="rep",
    ),
    Case(
        "compare-curve-images-negative",
        lambda t: ["compare", str(t / "out"), "--out", str(t / "rep"), "--curve-images", "-3"],
        "argument --curve-images",  # refused by the parser now, before any run is read
        ["expected an integer >= 0", "found -3"],
        setup=_copy_run,
        guarded="rep",
    ),
    Case(
        "compare-alpha-outside",
        lambda t: ["compare", str(t / "out"), "--out", str(t / "rep"), "--alpha", "1.5"],
        "--alpha",
        ["expected a number in (0, 1)", "found 1.5"],
        setup=_copy_run,
        guarded="rep",
    ),
    # deeply nested JSON
    Case(
        "config-json-nested",
        lambda t: ["train", "--out", str(t / "out"), "--resume"],
        "--resume",
        ["expected JSON in", "nested too deeply"],
        setup=_resume_config_nested,
    ),
    Case(
        "metadata-nested",
        lambda t: ["evaluate", str(t / "out"), "-k", "2"],
        "",
        ["model.safetensors", "expected JSON metadata", "nested too deeply"],
        setup=_weights_metadata_nested,
    ),
    Case(
        "metrics-nested",
        lambda t: ["compare", str(t / "out"), "--out", str(t / "rep")],
        "run",
        ["metrics.jsonl", "found line 1 corrupted (nested too deeply)"],
        setup=_metrics("[" * 100_000 + "\n"),
        guarded="rep",
    ),
    Case(
        "metrics-corrupted",
        lambda t: ["compare", str(t / "out"), "--out", str(t / "rep")],
        "run",
        ["metrics.jsonl", "found line 2 corrupted"],
        setup=_metrics('{"epoch": 1}\n{"epo\n'),
        guarded="rep",
    ),
    # sizes that exhaust memory: estimated and refused before allocating
    Case(
        "hidden-dim-huge",
        lambda t: _train(t, hidden_dim=10**12),
        "hidden_dim/latent_dim",
        ["expected a request that fits in memory", "hidden_dim = 1,000,000,000,000", "available"],
    ),
    Case(
        "latent-dim-huge",
        lambda t: _train(t, latent_dim=4 * 10**9),
        "hidden_dim/latent_dim",
        ["expected a request that fits in memory", "latent_dim = 4,000,000,000", "needing about"],
    ),
    Case(
        "num-particles-huge",
        lambda t: _train(t, num_particles=10**8),
        "batch_size/num_particles",
        ["expected a request that fits in memory", "100,000,000 particles", "available"],
    ),
    Case(
        "sample-n-1e13",
        lambda t: ["sample", str(t / "out"), "-n", "1e13"],
        "argument -n",
        ["expected a positive integer", "found '1e13'"],
    ),
    Case(
        "sample-n-huge",
        lambda t: ["sample", str(t / "out"), "-n", str(10**10), "--out", str(t / "s.png")],
        "-n",
        ["expected a request that fits in memory", "10,000,000,000 images", "available"],
        setup=_copy_run,
        guarded="s.png",
    ),
    Case(
        "sample-scale-huge",  # was blamed on -n
        lambda t: ["sample", str(t / "out"), "--scale", str(10**5), "--out", str(t / "s.png")],
        "-n/--scale",
        ["expected a request that fits in memory", "at --scale 100,000", "available"],
        setup=_copy_run,
        guarded="s.png",
    ),
    Case(
        "complete-samples-huge",
        lambda t: [
            "complete",
            str(t / "out"),
            "--input",
            "valid",
            "--samples",
            str(10**12),
            "--out",
            str(t / "c.png"),
        ],
        "--samples",
        ["expected a request that fits in memory", "available"],
        setup=_copy_run,
        guarded="c.png",
    ),
    Case(
        "evaluate-k-huge",
        lambda t: ["evaluate", str(t / "out"), "-k", str(10**18)],
        "argument --num-particles/-k",
        ["expected a positive integer <= 100,000,000", "found 1,000,000,000,000,000,000"],
    ),
    # .npy/.npz that cannot be what they claim
    Case(
        "npy-header-huge",
        _complete_input(lambda t: _npy_header(t / "big.npy", (10**12,))),
        "--input",
        ["to hold the data its header declares", "(1,000,000,000,000 bytes)"],
        setup=_copy_run,
        guarded="c.png",
    ),
    Case(
        "npz-header-huge",
        _npz_header_huge,
        "data",
        ["array 'train'", "to hold the data its header declares", "(784,000,000,000 bytes)"],
    ),
    Case(
        "npz-no-arrays",
        _complete_input(_empty_npz),
        "--input",
        ["expected an .npz archive of arrays", "holding no arrays"],
        setup=_copy_run,
        guarded="c.png",
    ),
    Case(
        "npy-0d",
        _complete_input(_save("zero.npy", np.array(5))),
        "--input",
        ["expected images (N, C, H, W)", "found a 0-d array"],
        setup=_copy_run,
        guarded="c.png",
    ),
    Case(
        "npy-strings",
        _complete_input(_save("s.npy", np.array([["a"] * 8] * 8))),
        "--input",
        ["expected integer pixels in {0, ..., 16}", "found dtype <U1"],
        setup=_copy_run,
        guarded="c.png",
    ),
    Case(
        "npy-complex",
        _complete_input(_save("c.npy", np.ones((2, 1, 8, 8), np.complex128))),
        "--input",
        ["expected integer pixels in {0, ..., 16}", "found dtype complex128"],
        setup=_copy_run,
        guarded="c.png",
    ),
    Case(
        "npy-out-of-range",
        _complete_input(_save("r.npy", np.full((2, 1, 8, 8), 40, np.int64))),
        "--input",
        ["expected integer pixels in {0, ..., 16}", "found 40 at index (0, 0, 0, 0)"],
        setup=_copy_run,
        guarded="c.png",
    ),
    # messages that name the argument
    Case(
        "seed-huge-config",
        lambda t: _train(t, "--set", f"seed={2**63}"),
        "seed",
        ["expected an integer <= 9223372036854775807", "found 9223372036854775808"],
    ),
    Case(
        "seed-huge-cli",
        lambda t: ["evaluate", str(t / "out"), "--seed", str(2**63)],
        "argument --seed",
        ["expected an integer seed in [0, 2^63)", "found 9223372036854775808"],
    ),
    Case(
        "sample-out-a-folder",
        lambda t: ["sample", str(t / "out"), "--out", str(t / "folder")],
        "--out",
        ["expected a PNG file path", "found a folder"],
        setup=_copy_run_and_folder,
        guarded="folder",
    ),
    Case(
        "sample-out-in-proc",
        lambda t: ["sample", str(t / "out"), "-n", "2", "--out", "/proc/pgm-test/s.png"],
        "--out",
        ["expected a writable file path", "/proc/pgm-test/s.png refused"],
        setup=_copy_run,
    ),
    Case(
        "checkpoints-a-file",
        lambda t: _train(t, "--resume"),
        "--out",
        ["checkpoints to be a folder of checkpoints", "found a file"],
        setup=_checkpoints_a_file,
    ),
    Case(
        "out-300-chars",
        lambda t: _train(t, "--out", str(t / ("x" * 300))),
        "--out",
        ["expected names of at most", "found one of 300 bytes"],
    ),
    Case(
        "sample-out-300-chars",
        lambda t: ["sample", str(t / "out"), "--out", str(t / ("x" * 300))],
        "--out",
        ["expected names of at most", "found one of 300 bytes"],
        setup=_copy_run,
    ),
    Case(
        "observed-diagonal",
        lambda t: ["complete", str(t / "out"), "--observed", "diagonal"],
        "--observed",
        ["expected one of", "top-half", "found 'diagonal'"],
        setup=_copy_run,
    ),
    Case(
        "nan-weights",
        lambda t: ["evaluate", str(t / "out"), "-k", "2"],
        "",
        ["model.safetensors", "expected finite weights", "found non-finite values in"],
        setup=_weights(_nan_weights),
    ),
    Case(
        "int8-weights",
        lambda t: ["evaluate", str(t / "out"), "-k", "2"],
        "",
        ["model.safetensors", "of dtype torch.float32; found torch.int8"],
        setup=_weights(_int8_weights),
    ),
    Case(
        "suite-epochs-scale-nan",
        lambda t: ["suite", "--out", str(t / "out"), "--epochs-scale", "nan"],
        "--epochs-scale",
        ["expected a number > 0 and <= 1000", "found nan"],
    ),
    Case(
        "suite-epochs-scale-negative",
        lambda t: ["suite", "--out", str(t / "out"), "--epochs-scale", "-1"],
        "--epochs-scale",
        ["expected a number > 0 and <= 1000", "found -1.0"],
    ),
    Case(
        "weights-a-folder",
        lambda t: ["evaluate", str(t / "out")],
        "run",
        ["model.safetensors to be a file of weights", "found a folder"],
        setup=_weights_a_folder,
    ),
    Case(
        "npz-a-folder",
        _npz_a_folder,
        "data",
        ["binarized_mnist.npz to be a file", "found a folder"],
    ),
    # accepted without a word before
    Case(
        "num-workers-lots",
        lambda t: _train(t, num_workers="lots"),
        "num_workers",
        ["expected an integer", "found 'lots'"],
    ),
]
CASES += HOSTILE


def _plugin_file(name: str, text: str) -> Callable[[Path, Path], None]:
    def setup(tmp: Path, run: Path) -> None:
        (tmp / name).write_text(text)

    return setup


def _autoencoder_run(tmp: Path, run: Path) -> None:
    train({**TINY, "model": "autoencoder"}, tmp / "ae", progress=False)


# -- found by the second hostile pass (after plug-ins, AIS, reproduce, hvae were merged) ------
QA2 = [
    Case(
        "plugin-not-a-py-file",
        lambda t: ["list", "--plugin", str(t / "passwd")],
        "--plugin",
        ["expected a .py file", "passwd"],
        setup=_plugin_file("passwd", "root:x:0:0:root:/root:/bin/bash\n"),
    ),
    Case(
        "plugin-exits-on-import",
        lambda t: ["list", "--plugin", str(t / "qa2_exits.py")],
        "--plugin",
        ["to import cleanly", "sys.exit(0)", "(line 3)"],
        setup=_plugin_file("qa2_exits.py", "import sys\n\nsys.exit(0)\n"),
    ),
    Case(
        "plugin-registers-a-builtin-name",
        lambda t: ["list", "--plugin", str(t / "qa2_dupvamp.py")],
        "--plugin",
        ["qa2_dupvamp.py to load", "prior 'vamp' is registered twice"],
        setup=_plugin_file(
            "qa2_dupvamp.py",
            "from pgm.registry import PRIORS\n\n\n@PRIORS.register('vamp')\ndef f():\n    pass\n",
        ),
    ),
    Case(
        "ais-on-an-autoencoder",
        lambda t: ["evaluate", str(t / "ae"), "--method", "ais", "--steps", "2", "--chains", "1"],
        "run",
        ["expected a model with a density p(x)", "autoencoder"],
        setup=_autoencoder_run,
        guarded="ae",
    ),
    Case(
        "bdmc-on-an-autoencoder",
        lambda t: ["bdmc", str(t / "ae"), "--steps", "2", "--chains", "1", "--num-images", "1"],
        "run",
        ["expected a model that defines a density p(x)", "autoencoder"],
        setup=_autoencoder_run,
        guarded="ae",
    ),
    Case(
        "reproduce-a-row-twice",
        lambda t: ["reproduce", "iwae-1layer", "iwae-1layer", "--out", str(t / "out")],
        "rows",
        ["expected each row once", "found 'iwae-1layer' more than once"],
    ),
    Case(
        "reproduce-second-row-already-there",
        lambda t: ["reproduce", "pixelcnn", "iwae-1layer", "--out", str(t / "out")],
        "--out",
        ["expected a new folder", "iwae-1layer already holding a run"],
        setup=lambda t, run: shutil.copytree(run, t / "out" / "iwae-1layer"),
    ),
    Case(
        "hidden-dims-huge-named-as-such",
        lambda t: _train(t, hidden_dims=[10**9]),
        "hidden_dims/latent_dim",
        ["expected a request that fits in memory", "hidden_dims = [1000000000]"],
    ),
    Case(
        "compare-bdmc-images-negative",
        lambda t: [
            "compare",
            str(t / "run"),
            "--method",
            "ais",
            "--bdmc-images",
            "-1",
            "--out",
            str(t / "out"),
        ],
        "argument --bdmc-images",
        ["expected an integer >= 0", "found -1"],
    ),
    Case(
        "ais-steps-a-billion",
        lambda t: ["evaluate", str(t / "out"), "--method", "ais", "--steps", "1000000000"],
        "argument --steps",
        ["expected a positive integer <= 1,000,000", "found 1,000,000,000"],
        setup=_copy_run,
    ),
    Case(
        "bdmc-leapfrog-a-million",
        lambda t: ["bdmc", str(t / "out"), "--leapfrog", "1000000"],
        "argument --leapfrog",
        ["expected a positive integer <= 1,000", "found 1,000,000"],
        setup=_copy_run,
    ),
]
CASES += QA2


def _broken_link(tmp: Path, run: Path) -> None:
    (tmp / "broken").symlink_to(tmp / "nothere")


def _run_and_broken_link(tmp: Path, run: Path) -> None:
    _copy_run(tmp, run)
    _broken_link(tmp, run)


def _run_with_a_fifo(name: str):
    """A setup: the trained run copied, its file ``name`` replaced by a FIFO."""

    def setup(tmp: Path, run: Path) -> None:
        _copy_run(tmp, run)
        (tmp / "out" / name).unlink()
        os.mkfifo(tmp / "out" / name)

    return setup


# the fourth hostile pass (stop 33)
QA3 = [
    Case(
        "train-out-a-broken-link",  # was: "found ... refused (File exists)"
        lambda t: ["train", _config(t), "--out", str(t / "broken"), "--no-progress"],
        "--out",
        ["found a broken link", "broken -> "],
        setup=_broken_link,
        guarded="nothere",
    ),
    Case(
        "compare-out-a-broken-link",  # was: a raw "[Errno 20]" after evaluating every run
        lambda t: ["compare", str(t / "out"), "--out", str(t / "broken"), "-k", "2"],
        "--out",
        ["found a broken link"],
        setup=_run_and_broken_link,
        guarded="nothere",
    ),
    Case(
        "fetch-data-dir-a-broken-link",  # was: "[Errno 17] File exists"
        lambda t: [
            "data",
            "fetch",
            "binarized-mnist",
            "--data-dir",
            str(t / "broken"),
            "--mirror",
            "http://127.0.0.1:9/",
        ],
        "--data-dir",
        ["found a broken link"],
        setup=_broken_link,
        guarded="nothere",
    ),
    Case(
        "train-data-dir-a-fifo",  # was: "found no such file", with a fetch hint refused too
        lambda t: _train(t, "--data-dir", str(t / "fifo"), data="binarized-mnist"),
        "--data-dir",
        ["expected a folder; found a FIFO"],
        setup=lambda t, run: os.mkfifo(t / "fifo"),
    ),
    Case(
        "compare-curve-max-particles-a-billion",  # was: refused after the evaluation, as K
        lambda t: ["compare", str(t / "out"), "--curve-max-particles", "1000000000"],
        "argument --curve-max-particles",
        ["expected a positive integer <= 100,000,000", "found 1,000,000,000"],
        setup=_copy_run,
    ),
    Case(
        "sample-out-a-jpg",  # was: PNG bytes written under the .jpg name, exit 0
        lambda t: ["sample", str(t / "out"), "-n", "2", "--out", str(t / "s.jpg")],
        "--out",
        ["expected a PNG file path (.png); found '.jpg'"],
        setup=_copy_run,
    ),
    Case(
        "sample-out-without-png-suffix",  # was: written as a PNG named "x"; "dir/" a file
        lambda t: ["sample", str(t / "out"), "-n", "2", "--out", str(t / "x")],
        "--out",
        ["expected a PNG file path (.png); found 'no suffix'"],
        setup=_copy_run,
    ),
    Case(
        "sample-out-a-folder-path",
        lambda t: ["sample", str(t / "out"), "-n", "2", "--out", f"{t / 'nosuch'}/"],
        "--out",
        ["expected a PNG file path (.png); found a folder path"],
        setup=_copy_run,
        guarded="nosuch",
    ),
    Case(
        "train-out-under-a-broken-link",  # was: "found broken/sub refused (File exists)"
        lambda t: ["train", _config(t), "--out", str(t / "broken" / "sub"), "--no-progress"],
        "--out",
        ["found a broken link", "broken -> "],
        setup=_broken_link,
        guarded="nothere",
    ),
    Case(
        "train-data-dir-a-broken-link",  # was: "found no such file", with a fetch hint refused
        lambda t: _train(t, "--data-dir", str(t / "broken"), data="binarized-mnist"),
        "--data-dir",
        ["expected a folder; found a broken link to"],
        setup=_broken_link,
        guarded="nothere",
    ),
    Case(
        "suite-models-flag-twice",  # was: the second --models replaced the first, then trained
        lambda t: ["suite", "--out", str(t / "out"), "--models", "vae", "--models", "vae"],
        "--models",
        ["expected each model once; found 'vae' more than once"],
    ),
    Case(
        "compare-metrics-a-fifo",  # was: read as no metrics, the run left out of the warnings
        lambda t: ["compare", str(t / "out"), "--out", str(t / "rep"), "-k", "2"],
        "run",
        ["metrics.jsonl to be a regular file; found a FIFO"],
        setup=_run_with_a_fifo("metrics.jsonl"),
        guarded="rep",
    ),
    Case(
        "evaluate-config-json-a-fifo",  # was: "found none"
        lambda t: ["evaluate", str(t / "out")],
        "run",
        ["config.json (a folder written by", "found a FIFO"],
        setup=_run_with_a_fifo("config.json"),
        guarded="rep",
    ),
    Case(
        "evaluate-an-empty-run-path",  # was: the current folder
        lambda t: ["evaluate", ""],
        "argument run",
        ["expected a folder; found an empty path"],
    ),
    Case(
        "lr-nan-said-finite",  # was: "expected a number; found nan", inf "a finite number"
        lambda t: _train(t, "--set", "lr=nan"),
        "lr",
        ["expected a finite number; found nan"],
    ),
]
CASES += QA3


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_bad_input(case: Case, tmp_path: Path, trained_run: Path, capsys):
    if case.setup is not None:
        case.setup(tmp_path, trained_run)
    argv = case.argv(tmp_path)
    guarded = tmp_path / case.guarded
    before = snapshot(guarded)
    code = main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    message = lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert message.startswith("pgm"), message
    assert f"error: {case.argument}" in message, message
    assert "expected" in message or "invalid choice" in message, message
    for text in case.says:
        assert text in message, message
    assert snapshot(guarded) == before, f"{guarded} changed"
    assert not (tmp_path / "PAYLOAD-RAN").exists(), "an unpickled payload ran"
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"


def test_cases_cover_the_brief():
    assert len(CASES) >= 20


def test_payload_of_the_test_pickles_is_live(tmp_path):
    """The refusals above prove something only if the payloads would have run."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Evil(marker)))
    assert marker.is_dir()


# -- real subprocesses: the console entry point prints one line, no traceback ----------------
@pytest.mark.parametrize(
    "argv, says",
    [
        (
            ["train", "MISSING.toml", "--out", "OUT"],
            "pgm train: error: config: expected a TOML file; found no such file",
        ),
        (
            ["evaluate", "OUT", "--num-particles", "0"],
            "pgm evaluate: error: argument --num-particles/-k: expected a positive integer; "
            "found 0",
        ),
    ],
    ids=["missing-config", "num-particles-zero"],
)
def test_console_bad_input_subprocess(argv, says, tmp_path):
    argv = [
        a.replace("OUT", str(tmp_path / "out")).replace("MISSING", str(tmp_path / "missing"))
        for a in argv
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pgm_cli", *argv], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(says), done.stderr
    assert not (tmp_path / "out").exists()


# -- the Python API ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built() -> pgm.GenerativeModel:
    return pgm.build({**TINY, "image_shape": [1, 8, 8], "num_levels": 17})


def _digits(n: int = 4) -> torch.Tensor:
    return torch.randint(0, 17, (n, 1, 8, 8)).float()


def _nan_images() -> torch.Tensor:
    x = _digits()
    x[2, 0, 3, 4] = math.nan
    return x


API_CASES = [
    (
        "build-latent-dim-zero",
        lambda m: pgm.build({**TINY, "image_shape": [1, 8, 8], "num_levels": 17, "latent_dim": 0}),
        ValueError,
        "latent_dim",
        ["expected an integer >= 1", "found 0"],
    ),
    (
        "build-latent-dim-text",
        lambda m: pgm.build(
            {**TINY, "image_shape": [1, 8, 8], "num_levels": 17, "latent_dim": "16"}
        ),
        ValueError,
        "latent_dim",
        ["expected an integer", "found '16'"],
    ),
    (
        "build-levels-one",
        lambda m: pgm.build({"image_shape": [1, 8, 8], "num_levels": 1}),
        ValueError,
        "num_levels",
        ["expected 0 (real-valued) or an integer >= 2", "found 1"],
    ),
    (
        "build-shape-bad",
        lambda m: pgm.build({"image_shape": [8, 8], "num_levels": 2}),
        ValueError,
        "image_shape",
        ["expected [C, H, W]", "found [8, 8]"],
    ),
    (
        "build-unknown-prior",
        lambda m: pgm.build({"image_shape": [1, 8, 8], "num_levels": 2, "prior": "cauchy"}),
        ValueError,
        "prior",
        ["expected one of", "found 'cauchy'"],
    ),
    (
        "fit-wrong-shape",
        lambda m: fit_model(m, torch.zeros(4, 1, 28, 28), epochs=1),
        ValueError,
        "train data",
        ["expected shape (N, 1, 8, 8)", "found (4, 1, 28, 28)"],
    ),
    (
        "fit-nan",
        lambda m: fit_model(m, _nan_images(), epochs=1),
        ValueError,
        "train data",
        ["expected finite values", "found nan at index (2, 0, 3, 4)"],
    ),
    (
        "fit-outside-support",
        lambda m: fit_model(m, _digits().fill_(17.0), epochs=1),
        ValueError,
        "train data",
        ["expected integer values in {0, ..., 16}", "found 17.0"],
    ),
    (
        "fit-fractional",
        lambda m: fit_model(m, _digits() + 0.5, epochs=1),
        ValueError,
        "train data",
        ["expected integer values", "found"],
    ),
    (
        "fit-empty-batch",
        lambda m: fit_model(m, torch.zeros(0, 1, 8, 8), epochs=1),
        ValueError,
        "train data",
        ["expected a non-empty batch", "found 0 images"],
    ),
    (
        "fit-valid-nan",
        lambda m: fit_model(m, _digits(), _nan_images(), epochs=1),
        ValueError,
        "valid data",
        ["expected finite values"],
    ),
    (
        "fit-batch-size-zero",
        lambda m: fit_model(m, _digits(), epochs=1, batch_size=0),
        ValueError,
        "batch_size",
        ["expected an integer >= 1", "found 0"],
    ),
    (
        "fit-not-a-tensor",
        lambda m: fit_model(m, np.zeros((4, 1, 8, 8)), epochs=1),
        TypeError,
        "train data",
        ["expected a torch.Tensor", "found ndarray"],
    ),
    (
        "estimate-num-particles-zero",
        lambda m: estimate(m, _digits(), num_particles=0),
        ValueError,
        "num_particles",
        ["expected an integer >= 1", "found 0"],
    ),
    (
        "estimate-wrong-levels",
        lambda m: estimate(m, _digits().fill_(40.0), num_particles=2),
        ValueError,
        "x",
        ["expected integer values in {0, ..., 16}", "found 40.0"],
    ),
    (
        "estimate-empty",
        lambda m: estimate(m, torch.zeros(0, 1, 8, 8), num_particles=2),
        ValueError,
        "x",
        ["expected a non-empty batch"],
    ),
    (
        "train-config-not-a-table",
        lambda m: train(["model", "vae"]),
        ConfigError,
        "config",
        ["expected a table of settings", "found list"],
    ),
    (
        "train-data-not-datasets",
        lambda m: train(TINY, data=(torch.zeros(1), torch.zeros(1))),
        TypeError,
        "data",
        ["expected a pair (train, valid) of pgm.data.ImageDataset", "found tuple"],
    ),
    (
        "load-run-missing",
        lambda m: load_run("/nonexistent/pgm-run"),
        ConfigError,
        "run",
        ["expected a run folder", "found no such folder"],
    ),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input(case, built):
    _, call, error, argument, says = case
    with pytest.raises(error) as info:
        call(built)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{argument}: expected"), message
    for text in says:
        assert text in message, message


def test_train_api_checks_data_before_creating_the_run(tmp_path):
    """A dataset with a NaN (float images through the Python API) is refused before the run
    folder exists, so nothing is left behind."""
    images = torch.randint(0, 17, (20, 1, 8, 8)).float()
    images[5, 0, 1, 1] = math.nan
    bad = ImageDataset("digits", "train", images, 17)
    good = ImageDataset(
        "digits", "valid", torch.randint(0, 17, (10, 1, 8, 8), dtype=torch.uint8), 17
    )
    with pytest.raises(
        ValueError, match=r"^train data: expected finite values; found nan at index \(5, 0, 1, 1\)"
    ):
        train(TINY, tmp_path / "run", data=(bad, good), progress=False)
    assert not (tmp_path / "run").exists()


def test_evaluate_ais_answers_a_person_unless_json(tmp_path, trained_run, capsys):
    """``pgm evaluate --method ais`` printed its JSON line whether or not ``--json`` was given,
    unlike the importance sampler's summary; now both give the summary by default."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    argv = ["evaluate", str(run), "--method", "ais", "--steps", "2", "--chains", "1"]
    argv += ["--leapfrog", "1", "--num-images", "2", "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "T = 2 steps, 1 chains" in text and "bits/dim" in text and "acceptance" in text
    assert not text.lstrip().startswith("{")
    assert main([*argv, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["method"] == "ais" and row["num_steps"] == 2
