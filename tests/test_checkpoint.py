"""Checkpoints without pickle: what is saved comes back exactly, writes are atomic, the best
checkpoint outlives the rolling window, and anything that is not a pgm safetensors file (a
pickle, a ``torch.save`` archive, a truncated or foreign file) is refused by name, unread.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shutil
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.nn import PyroModule, PyroParam
from safetensors.torch import save
from torch import nn

import pgm
from inference import CheckpointError, Trainer, fit_model, load_run, train
from inference import checkpoint as ckpt
from inference.config import resolve_config

REPO = Path(__file__).resolve().parents[1]
# keep_checkpoints = 2: the fallback hint needs an older checkpoint (the default keeps one)
TINY = {
    "data": "digits",
    "model": "vae",
    "latent_dim": 2,
    "hidden_dim": 16,
    "num_train": 100,
    "batch_size": 50,
    "epochs": 2,
    "lr": 3e-3,
    "seed": 0,
    "device": "cpu",
    "keep_checkpoints": 2,
}


class Evil:
    """Unpickling this creates a folder: the proof, if it ever exists, that a payload ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _torch_save(path: Path, marker: Path) -> None:
    torch.save({"state": Evil(marker)}, path)


def _torch_save_legacy(path: Path, marker: Path) -> None:
    torch.save({"state": Evil(marker)}, path, _use_new_zipfile_serialization=False)


def _pickle(protocol: int):
    def write(path: Path, marker: Path) -> None:
        path.write_bytes(pickle.dumps(Evil(marker), protocol=protocol))

    return write


PAYLOADS = {
    "torch.save": _torch_save,
    "torch.save-legacy": _torch_save_legacy,
    "pickle-0": _pickle(0),
    "pickle-2": _pickle(2),
    "pickle-5": _pickle(5),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ckpt") / "run"
    train(TINY, folder, progress=False)
    return folder


def test_the_payloads_are_live(tmp_path):
    """The refusals below mean something only because these payloads do run when unpickled."""
    for name, write in PAYLOADS.items():
        path, marker = tmp_path / f"{name}.bin", tmp_path / f"{name}-ran"
        write(path, marker)
        if name.startswith("torch.save"):
            # the pickle torch.save wrote inside its zip: unpickled here by hand (torch.load is
            # never called without weights_only=True anywhere in the project)
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    inner = next(n for n in archive.namelist() if n.endswith("data.pkl"))
                    pickle.loads(archive.read(inner))
            else:  # the legacy format: magic number, protocol, system info, then the object
                with path.open("rb") as f:
                    for _ in range(4):
                        pickle.Unpickler(f).load()
        else:
            pickle.loads(path.read_bytes())
        assert marker.is_dir(), name


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_pickles_are_refused_unread_everywhere(payload, tmp_path, run):
    """In place of a tensor file, of model.safetensors, and of a training checkpoint."""
    marker = tmp_path / "PAYLOAD-RAN"
    loose = tmp_path / "loose.safetensors"
    PAYLOADS[payload](loose, marker)
    with pytest.raises(CheckpointError, match=re.escape(str(loose))):
        ckpt.load_tensors(loose)

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    PAYLOADS[payload](copy / "model.safetensors", marker)
    with pytest.raises(CheckpointError, match=re.escape(str(copy / "model.safetensors"))):
        load_run(copy)

    (copy / "model.safetensors").unlink()
    latest = sorted((copy / "checkpoints").glob("epoch-*.safetensors"))[-1]
    PAYLOADS[payload](latest, marker)
    with pytest.raises(CheckpointError, match=re.escape(str(latest))) as info:
        train({**TINY, "epochs": 3}, copy, resume=True, progress=False)
    assert "move it away to resume from epoch-00001.safetensors" in str(info.value)
    assert not marker.exists(), "an unpickled payload ran"


def test_pickle_and_torch_save_are_named_as_such(tmp_path):
    path = tmp_path / "weights.safetensors"
    _torch_save(path, tmp_path / "ran")
    with pytest.raises(CheckpointError) as info:
        ckpt.load_tensors(path)
    assert str(info.value) == (
        f"{path}: expected a safetensors file written by pgm; found a pickle or torch.save file, "
        "refused unread (unpickling can run arbitrary code; pgm never unpickles)"
    )


@pytest.mark.parametrize("keep", [0, 4, 8, 60, "half", "all-but-one"])
def test_truncated_files_are_refused_by_name(keep, tmp_path):
    path = tmp_path / "t.safetensors"
    ckpt.save_tensors(path, {"w": torch.randn(50, 50)}, {"epoch": 3})
    data = path.read_bytes()
    n = {"half": len(data) // 2, "all-but-one": len(data) - 1}.get(keep, keep)
    path.write_bytes(data[:n])
    with pytest.raises(
        CheckpointError,
        match=rf"^{re.escape(str(path))}: expected a complete pgm safetensors file; "
        r"found an unreadable one \(truncated or corrupted\?",
    ):
        ckpt.load_tensors(path)


@pytest.mark.parametrize(
    "metadata, found",
    [
        (
            {"format": "pt"},
            r"expected a file written by pgm \(metadata format "
            r"'pgm-checkpoint-1'\); found format None \(metadata entries: format\)",
        ),
        (
            {"pgm": '{"format": "pgm-checkpoint-0"}'},
            r"expected a file written by pgm \(metadata "
            r"format 'pgm-checkpoint-1'\); found format 'pgm-checkpoint-0'",
        ),
        ({"pgm": "{not json"}, r"expected JSON metadata; found corrupted metadata"),
    ],
    ids=["foreign", "other-format", "corrupted-json"],
)
def test_foreign_and_corrupted_metadata_are_refused(tmp_path, metadata, found):
    path = tmp_path / "w.safetensors"
    path.write_bytes(save({"w": torch.zeros(2)}, metadata=metadata))
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(path))}: {found}"):
        ckpt.load_tensors(path)


def test_a_missing_checkpoint_is_refused_by_name(tmp_path):
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(
        CheckpointError,
        match=r"missing.safetensors: expected a pgm safetensors file; found no such file",
    ):
        ckpt.load_tensors(missing)


def test_metadata_round_trips_and_the_bytes_are_reproducible(tmp_path):
    """One sorted-JSON metadata entry: the same content gives the same bytes in any process
    (safetensors' own metadata map has no stable order)."""
    meta = {"b": [1, 2.5, None], "a": {"z": "text", "y": float("inf")}}
    tensors = {"x": torch.arange(6.0).reshape(2, 3), "y": torch.tensor([1, 2], dtype=torch.int64)}
    ckpt.save_tensors(tmp_path / "one.safetensors", tensors, meta)
    ckpt.save_tensors(
        tmp_path / "two.safetensors", dict(reversed(tensors.items())), dict(reversed(meta.items()))
    )
    assert (tmp_path / "one.safetensors").read_bytes() == (
        tmp_path / "two.safetensors"
    ).read_bytes()
    loaded, back = ckpt.load_tensors(tmp_path / "one.safetensors")
    assert back == meta and all(torch.equal(loaded[k], tensors[k]) for k in tensors)


def test_stale_temporaries_of_run_files_are_cleared_and_nothing_else(tmp_path):
    (tmp_path / "f.json").write_text("{}")
    (tmp_path / ".metrics.jsonl.ab_c1234.tmp").write_bytes(b"half")
    (tmp_path / ".epoch-00002.safetensors.abcd1234.tmp").write_bytes(b"half")
    (tmp_path / ".pgm-write-test.123.tmp").write_bytes(b"")
    (tmp_path / ".f.json.abc123.tmp").write_bytes(b"a user's: not a name pgm writes")
    (tmp_path / ".notes.tmp").write_bytes(b"a user's")
    (tmp_path / "keep.tmp").write_bytes(b"not ours: no leading dot")
    assert sorted(p.name for p in ckpt.remove_stale_temporaries(tmp_path)) == [
        ".epoch-00002.safetensors.abcd1234.tmp",
        ".metrics.jsonl.ab_c1234.tmp",
        ".pgm-write-test.123.tmp",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".f.json.abc123.tmp",
        ".notes.tmp",
        "f.json",
        "keep.tmp",
    ]


def _trainer(run_dir: Path | None, **changes) -> Trainer:
    cfg = resolve_config({**TINY, **changes}, image_shape=[1, 8, 8], num_levels=17)
    torch.manual_seed(cfg["seed"])
    return Trainer(cfg, pgm.build(cfg), run_dir)


def test_checkpoint_restores_every_piece_of_state(tmp_path):
    x = torch.randint(0, 17, (100, 1, 8, 8)).float()
    first = _trainer(tmp_path)
    first.fit(x, x[:20], progress=False)
    first.save_checkpoint()
    random.seed(11)
    np.random.seed(12)
    torch.manual_seed(13)
    expected = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(11)
    np.random.seed(12)
    torch.manual_seed(13)
    first.save_checkpoint()  # RNG state as of the seeds above

    second = _trainer(tmp_path, seed=5)
    random.seed(0)
    second.load_checkpoint(first.latest_checkpoint())
    found = (random.random(), np.random.rand(), torch.rand(3))
    assert found[:2] == expected[:2] and torch.equal(found[2], expected[2])
    assert (second.epoch, second.step, second.best_epoch) == (
        first.epoch,
        first.step,
        first.best_epoch,
    )
    assert second.best_valid_loss == first.best_valid_loss and second.metrics == first.metrics
    for (k, a), b in zip(
        first.model.state_dict().items(), second.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    for k, v in first.best_state.items():
        assert torch.equal(v, second.best_state[k]), k
    mine, theirs = first.optimizer.state_dict(), second.optimizer.state_dict()
    # JSON keeps Adam's betas as a list rather than a tuple: equal as settings
    assert json.loads(json.dumps(mine["param_groups"])) == json.loads(
        json.dumps(theirs["param_groups"])
    )
    for idx, entry in mine["state"].items():
        for key, value in entry.items():
            assert torch.equal(
                torch.as_tensor(value), torch.as_tensor(theirs["state"][idx][key])
            ), (idx, key)


def test_best_checkpoint_outlives_the_rolling_window(tmp_path):
    trainer = _trainer(tmp_path, keep_checkpoints=2)

    def names():
        return sorted(
            int(p.name[6:11]) for p in (tmp_path / "checkpoints").glob("epoch-*.safetensors")
        )

    trainer.best_epoch = 1
    for epoch in range(1, 6):
        trainer.epoch = epoch
        trainer.save_checkpoint()
    assert names() == [1, 4, 5]
    trainer.best_epoch, trainer.epoch = 6, 6
    trainer.save_checkpoint()
    assert names() == [5, 6]


def test_checkpoint_of_another_model_is_refused_by_name(tmp_path):
    trainer = _trainer(tmp_path)
    trainer.epoch, trainer.step, trainer.metrics = 1, 1, [{"epoch": 1, "step": 1}]
    trainer.save_checkpoint()
    other = _trainer(tmp_path / "other", hidden_dim=8)
    path = trainer.latest_checkpoint()
    with pytest.raises(
        CheckpointError,
        match=rf"^{re.escape(str(path))}: expected tensor 'model\.[\w.]+' of shape \(8,\); "
        r"found \(16,\)$",
    ):
        other.load_checkpoint(path)


def test_no_code_path_unpickles():
    """Static guard: nothing in the package calls a loader that unpickles."""
    unsafe = re.compile(
        r"pickle\.loads?\(|torch\.load\((?![^)]*weights_only\s*=\s*True)|param_store\.load\(|"
        r"get_param_store\(\)\.load\(|\.load_state_dict\(torch\.load|allow_pickle\s*=\s*True|"
        r"dill\.|joblib\.load"
    )
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for folder in ("pgm", "inference", "evaluation")
        for path in (REPO / folder).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if unsafe.search(line)
    ]
    assert found == []


# -- Pyro's param store: its entries would be neither trained nor saved, so they are refused ---
class _ParamStoreModel(pgm.GenerativeModel):
    """x ~ Normal(loc, scale) per coordinate, with ``scale`` a global ``pyro.param``."""

    def __init__(self):
        super().__init__((3,), 0)
        self.loc = nn.Parameter(torch.zeros(3))

    def model(self, x):
        scale = pyro.param("scale", torch.ones(3), constraint=dist.constraints.positive)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Normal(self.loc, scale).to_event(1), obs=x)


class _Scale(PyroModule):
    def __init__(self):
        super().__init__()
        self.scale = PyroParam(torch.ones(3), constraint=dist.constraints.positive)


class _PyroParamModel(_ParamStoreModel):
    """The same, with ``scale`` a ``PyroParam`` of a ``PyroModule``: a module parameter."""

    def __init__(self):
        super().__init__()
        self.noise = _Scale()

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Normal(self.loc, self.noise.scale).to_event(1), obs=x)


def test_param_store_sites_are_refused():
    x = torch.randn(20, 3)
    with pytest.raises(
        TypeError,
        match=r"^model: expected every learnable tensor to be an nn.Parameter .*"
        r"found pyro.param site\(s\) \['scale'\]",
    ):
        fit_model(_ParamStoreModel(), x, epochs=1, batch_size=10)


def test_pyro_params_of_pyro_modules_are_trained_and_checkpointed(tmp_path):
    model = _PyroParamModel()
    x = torch.randn(40, 3) * 3.0 + 1.0
    cfg = resolve_config(
        {
            "epochs": 30,
            "batch_size": 20,
            "lr": 0.05,
            "device": "cpu",
            "image_shape": [3],
            "num_levels": 0,
        }
    )
    trainer = Trainer(cfg, model, tmp_path)
    trainer.fit(x, progress=False)
    assert float(model.noise.scale.detach().mean()) > 1.5  # learned towards the data's scale of 3
    tensors, _ = ckpt.load_tensors(trainer.latest_checkpoint())
    assert torch.equal(
        tensors["model.noise.scale_unconstrained"], model.noise.scale_unconstrained.detach()
    )


def _edit_newest(run: Path, edit) -> Path:
    """Apply ``edit`` to the tensors of ``run``'s newest checkpoint, keeping its metadata."""
    newest = sorted((run / "checkpoints").glob("epoch-*.safetensors"))[-1]
    tensors, meta = ckpt.load_tensors(newest)
    edit(tensors)
    ckpt.save_tensors(newest, tensors, meta)
    return newest


def _first_best(tensors: dict) -> str:
    return next(k for k in sorted(tensors) if k.startswith("best.") and "decoder" in k)


def _drop_best(tensors: dict) -> None:
    for key in [k for k in tensors if k.startswith("best.")]:
        del tensors[key]


def _reshape_best(tensors: dict) -> None:
    tensors[_first_best(tensors)] = torch.zeros(5)


def _lose_a_best(tensors: dict) -> None:
    del tensors[_first_best(tensors)]


def _add_a_best(tensors: dict) -> None:
    tensors["best.extra"] = torch.zeros(2)


def _nan_best(tensors: dict) -> None:
    tensors[_first_best(tensors)] = torch.full_like(tensors[_first_best(tensors)], float("nan"))


def _empty_model_key(tensors: dict) -> None:
    tensors["model."] = torch.zeros(2)


@pytest.mark.parametrize(
    "edit, found",
    [
        (
            _drop_best,
            r"expected the best validation epoch's weights \(best\.\*\), as its "
            r"metadata records best epoch \d+; found none",
        ),
        (_reshape_best, r"expected tensor 'best\.[\w.]+' of shape \([\d, ]+\); found \(5,\)"),
        (_lose_a_best, r"found others \(1 missing \('best\.[\w.]+'\)\)"),
        (_add_a_best, r"found others \(1 unexpected \('best\.extra'\)\)"),
        (_nan_best, r"expected finite weights; found non-finite values in 'best\.[\w.]+'"),
        (_empty_model_key, r"found others \(1 unexpected \('model\.'\)\)"),
    ],
    ids=["no-best", "best-shape", "best-missing", "best-extra", "best-nan", "model-empty"],
)
def test_resume_refuses_best_weights_the_run_would_keep(run, tmp_path, capsys, edit, found):
    """A resume checks a checkpoint's best weights as it checks the current ones: they become
    ``model.safetensors`` when training ends, so a checkpoint without them (its metadata naming
    a best epoch) or with weights of another shape, set or value is refused in one line when it
    is read, and nothing is written (before, the current weights were saved as the best, exit
    status 0, or a traceback came after training)."""
    from pgm_cli.main import main

    copy = Path(shutil.copytree(run, tmp_path / "run"))
    (copy / "model.safetensors").unlink()
    newest = _edit_newest(copy, edit)
    before = sorted(p.name for p in copy.rglob("*"))
    assert main(["train", "--resume", "--out", str(copy), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"error: {newest}: expected " in err and re.search(found, err), err
    assert "move it away to resume from epoch-00001.safetensors" in err
    assert sorted(p.name for p in copy.rglob("*")) == before


def test_evaluate_best_names_the_best_epoch_its_weights_are_missing_for(run, tmp_path, capsys):
    from pgm_cli.main import main

    copy = Path(shutil.copytree(run, tmp_path / "run"))
    newest = _edit_newest(copy, _drop_best)
    argv = ["evaluate", str(copy), "--checkpoint", "best", "--num-images", "4", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"{newest}: expected the best validation epoch's weights (best.*), as its " in err
    assert "metadata records best epoch" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("command", ["evaluate", "sample"])
def test_weights_no_distribution_accepts_are_refused_in_one_line(run, tmp_path, capsys, command):
    """Finite weights a distribution refuses (the prior's scale set to -1 in the file) are the
    run's fault: one line naming the run, status 2, no traceback, nothing written."""
    from pgm_cli.main import main

    copy = Path(shutil.copytree(run, tmp_path / "run"))
    tensors, meta = ckpt.load_tensors(copy / "model.safetensors")
    tensors["prior.scale"] = -torch.ones_like(tensors["prior.scale"])
    ckpt.save_tensors(copy / "model.safetensors", tensors, meta)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    out = ["--out", str(tmp_path / "grid.png")] if command == "sample" else []
    argv = [command, str(copy), *out, "--no-progress"] + (
        ["-k", "2"] if command == "evaluate" else []
    )
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    weights = copy / "model.safetensors"
    assert err.startswith(f"pgm {command}: error: {weights}: expected weights that give valid ")
    assert "Expected parameter scale" in err and "GreaterThan(lower_bound=0.0)" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def _negative_scale(prefix: str):
    def edit(tensors: dict) -> None:
        tensors[f"{prefix}prior.scale"] = -torch.ones_like(tensors[f"{prefix}prior.scale"])

    return edit


@pytest.mark.parametrize(
    "command, prefix", [("resume", "best."), ("resume", "model."), ("evaluate", "best.")]
)
def test_checkpoint_weights_no_distribution_accepts_are_refused(
    run, tmp_path, capsys, command, prefix
):
    """Finite checkpoint weights a distribution refuses: a resume refuses best ones before
    keeping them as model.safetensors (exit status 0 before) and current ones before training
    on (a failed step named no file), and --checkpoint best names the checkpoint."""
    from pgm_cli.main import main

    copy = Path(shutil.copytree(run, tmp_path / "run"))
    (copy / "model.safetensors").unlink()
    newest = _edit_newest(copy, _negative_scale(prefix))
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*")}
    argv = (
        ["train", "--resume", "--out", str(copy), "--set", "epochs=3", "--no-progress"]
        if command == "resume"
        else ["evaluate", str(copy), "--checkpoint", "best", "-k", "2", "--no-progress"]
    )
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    what = "best weights" if (command, prefix) == ("resume", "best.") else "weights"
    assert f"error: {newest}: expected {what} that give valid distributions; found " in err, err
    assert "Expected parameter scale" in err and len(err.splitlines()) == 1
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*")} == before


class _AlwaysInvalid(torch.nn.Module):
    """A model whose own code builds an invalid distribution, whatever its weights."""

    event_shape, has_density = (1, 2, 2), True

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    @property
    def device(self):
        return self.w.device

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Normal(0.0, -torch.ones(4)).to_event(1), obs=x.flatten(1))

    def guide(self, x):
        pass


def test_a_code_bug_is_not_blamed_on_the_weights(tmp_path):
    """The probe refuses a file only when freshly built weights pass it: a model whose code
    fails either way is left to fail as the bug it is, and nothing is drawn from torch's
    generator by the probe."""
    from inference.weights_probe import check_valid_distributions

    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_valid_distributions(_AlwaysInvalid(), tmp_path / "w.safetensors", _AlwaysInvalid)
    assert torch.equal(torch.rand(3), expected)


def test_the_probe_draws_nothing_from_the_callers_generator(run, tmp_path):
    """Probing a VAE samples its guide: under a forked generator, so a seeded evaluation after
    loading draws what it drew before the probe existed."""
    from inference.weights_probe import check_valid_distributions

    model, _ = load_run(run)
    model.train()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_valid_distributions(model, tmp_path / "w.safetensors", lambda: None)
    assert torch.equal(torch.rand(3), expected) and model.training


def _hidden_from_blank(tensors: dict) -> None:
    """Encoder weights that cancel on a blank image (every pixel read as -1) and overflow on
    real ones: the probe passes them, the real images do not."""
    w = torch.zeros_like(tensors["posterior.encoder.net.0.weight"])
    signs = torch.ones(w.shape[0])
    signs[::2] = -1
    w[:, 27], w[:, 28] = 1e38 * signs, -1e38 * signs
    tensors["posterior.encoder.net.0.weight"] = w
    tensors["posterior.encoder.net.0.bias"] = torch.zeros_like(w[:, 0])
    hidden = tensors["posterior.encoder.net.2.weight"]
    tensors["posterior.encoder.net.2.weight"] = 1e37 * signs.expand_as(hidden).contiguous()


@pytest.mark.parametrize("plugin", [False, True], ids=["no-plugin", "plugin-named"])
def test_weights_invalid_only_on_real_images_are_the_runs_fault(run, tmp_path, capsys, plugin):
    """Weights that pass the blank-image probe but give a distribution invalid parameters on
    the real images: one line naming the run, status 2, when no plug-in was named; with a
    plug-in named, the plug-in may be at fault, and the error surfaces as it is (a bug)."""
    from pgm_cli.main import main

    copy = Path(shutil.copytree(run, tmp_path / "run"))
    tensors, meta = ckpt.load_tensors(copy / "model.safetensors")
    _hidden_from_blank(tensors)
    ckpt.save_tensors(copy / "model.safetensors", tensors, meta)
    argv = ["evaluate", str(copy), "-k", "2", "--num-images", "8", "--no-progress"]
    if plugin:
        from pgm import plugins

        named = tmp_path / f"probe_plugin_{uuid.uuid4().hex[:8]}.py"
        named.write_text("X = 1\n")
        saved = plugins.snapshot()
        try:
            with pytest.raises(ValueError, match="^Expected parameter"):
                main([*argv, "--plugin", str(named)])
        finally:
            plugins.restore(saved)
        return
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"pgm evaluate: error: {copy}: expected weights that give valid ")
    assert "on these images; found Expected parameter" in err
