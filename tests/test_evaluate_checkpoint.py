"""A run still training, evaluated from its newest checkpoint (``pgm evaluate --checkpoint``,
``load_run(checkpoint=...)``): the best weights so far score as the final weights do, each
weights get their own evaluation file, and a checkpoint that is missing, corrupt, rotated away
while read, or at odds with an edited config.json is refused in one line (never unpickled)."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from tiny_run import TINY_RUN

from inference import CheckpointError, ConfigError, load_run, load_run_weights, train
from inference.checkpoint import load_tensors, save_tensors
from pgm_cli.main import main

EVAL = ["-k", "5", "--num-images", "10", "--no-progress"]
CKPT = "epoch-00002.safetensors"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny run trained 2 epochs (keep_checkpoints at its default), evaluated normally."""
    run = tmp_path_factory.mktemp("ckpt-eval") / "run"
    train({**TINY_RUN, "epochs": 2}, run, progress=False)
    return run


def _in_training(finished: Path, tmp_path: Path) -> Path:
    """A copy of the run without model.safetensors, as while it still trains."""
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    (run / "model.safetensors").unlink()
    return run


def _json_row(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _refused(argv: list[str], capsys, *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("pgm evaluate: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


def _best_epoch(run: Path) -> int:
    _, meta = load_tensors(run / "checkpoints" / CKPT)
    return meta["best_epoch"]


def test_best_checkpoint_scores_as_the_final_weights(finished, tmp_path, capsys):
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    assert main(["evaluate", str(run), *EVAL, "--json"]) == 0
    final = _json_row(capsys)
    assert "checkpoint" not in final  # the final weights' row is as before
    (run / "model.safetensors").unlink()

    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "best", "--json"]) == 0
    best = _json_row(capsys)
    # the best weights so far are the weights a finished run ends with: the same numbers
    assert best["log_likelihood_nats"] == final["log_likelihood_nats"]
    assert best["elbo_nats"] == final["elbo_nats"]
    epoch = _best_epoch(run)
    assert best["checkpoint"] == {
        "which": "best",
        "file": CKPT,
        "epoch": 2,
        "weights_epoch": epoch,
        "weights": f"best of {CKPT} (best epoch {epoch})",
    }
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "best"]) == 0
    assert f"weights    best of {CKPT} (best epoch {epoch})" in capsys.readouterr().out

    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "last"]) == 0
    text = capsys.readouterr().out
    assert f"weights    last of {CKPT} (epoch 2)" in text and "ckpt-last-e00002" in text


def test_each_weights_get_their_own_file_reused_when_asked_again(
    finished, tmp_path, capsys, monkeypatch
):
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    assert main(["evaluate", str(run), *EVAL]) == 0
    final = run / "evaluation-test-is-K5-n10.json"
    stamp = final.stat().st_mtime_ns
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "best"]) == 0
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "last"]) == 0
    epoch = _best_epoch(run)
    best = run / f"evaluation-test-is-K5-n10-ckpt-best-e{epoch:05d}.json"
    last = run / "evaluation-test-is-K5-n10-ckpt-last-e00002.json"
    assert sorted(run.glob("evaluation-*.json")) == sorted([final, best, last])
    assert final.stat().st_mtime_ns == stamp  # a checkpoint's evaluation never overwrote it
    assert json.loads(final.read_text())["weights"].keys() == {"size", "mtime_ns"}
    assert json.loads(best.read_text())["checkpoint"]["which"] == "best"
    capsys.readouterr()

    # asked again: read back, the estimator never called
    import evaluation.estimators.importance as importance

    called = []
    original = importance.estimate
    monkeypatch.setattr(
        importance, "estimate", lambda *a, **k: called.append(1) or original(*a, **k)
    )
    best_stamp = best.stat().st_mtime_ns
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "best"]) == 0
    assert not called and best.stat().st_mtime_ns == best_stamp
    assert "(reused: same evaluation)" in capsys.readouterr().out
    # other weights under the same name (a run retrained): computed again, not reused
    row = json.loads(best.read_text())
    best.write_text(json.dumps({**row, "weights": {**row["weights"], "sha256": "0" * 64}}))
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "best"]) == 0
    assert called and "reused" not in capsys.readouterr().out


def test_without_checkpoint_the_refusal_names_the_option(finished, tmp_path, capsys):
    run = _in_training(finished, tmp_path)
    _refused(
        ["evaluate", str(run), *EVAL],
        capsys,
        "model.safetensors; found none",
        f"pgm train --out {run} --resume",
        "--checkpoint best",
    )


def test_a_run_without_checkpoints_is_refused(finished, tmp_path, capsys):
    run = _in_training(finished, tmp_path)
    shutil.rmtree(run / "checkpoints")
    for which in ("best", "last"):
        _refused(
            ["evaluate", str(run), *EVAL, "--checkpoint", which],
            capsys,
            f"expected a checkpoint in {run / 'checkpoints'}; found none",
            "not finished a checkpointed epoch yet",
        )
    assert not list(run.glob("evaluation-*"))
    # a finished run whose checkpoints were deleted: it has finished, its final weights remain
    shutil.copy(finished / "model.safetensors", run / "model.safetensors")
    _refused(
        ["evaluate", str(run), *EVAL, "--checkpoint", "best"],
        capsys,
        "found none (the run has finished: evaluate its model.safetensors without --checkpoint)",
    )


class _Marker:
    """Unpickled, it would create a file: its absence shows nothing was unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_corrupt_checkpoint_is_refused_unread(finished, tmp_path, capsys):
    run = _in_training(finished, tmp_path)
    path = run / "checkpoints" / CKPT
    marker = tmp_path / "unpickled"
    path.write_bytes(pickle.dumps(_Marker(marker), protocol=4))
    _refused(
        ["evaluate", str(run), *EVAL, "--checkpoint", "best"],
        capsys,
        str(path),
        "pickle or torch.save file, refused unread",
    )
    assert not marker.exists()
    path.write_bytes(b"these bytes are not a safetensors file")
    _refused(
        ["evaluate", str(run), *EVAL, "--checkpoint", "last"],
        capsys,
        str(path),
        "expected a complete pgm safetensors file",
    )
    assert not list(run.glob("evaluation-*"))


def test_a_checkpoint_without_best_weights_says_so(finished, tmp_path, capsys):
    run = _in_training(finished, tmp_path)
    path = run / "checkpoints" / CKPT
    tensors, meta = load_tensors(path)
    tensors = {k: v for k, v in tensors.items() if not k.startswith("best.")}
    save_tensors(path, tensors, {**meta, "best_epoch": 0, "best_valid_loss": None})
    _refused(
        ["evaluate", str(run), *EVAL, "--checkpoint", "best"],
        capsys,
        f"{path}: expected the best validation epoch's weights; found none",
        "--checkpoint last",
    )
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "last"]) == 0


def test_a_config_json_edited_after_the_checkpoint_is_refused(finished, tmp_path, capsys):
    run = _in_training(finished, tmp_path)
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**saved, "latent_dim": 3}))
    needle = r"latent_dim \(run has 2, config.json 3\)"
    with pytest.raises(ConfigError, match=rf"{CKPT} in {needle}.*config.json was edited"):
        load_run(run, checkpoint="best")
    _refused(
        ["evaluate", str(run), *EVAL, "--checkpoint", "last"],
        capsys,
        "latent_dim (run has 2, config.json 3)",
        CKPT,
    )
    # keys a session may change (and epochs grown by a resume in progress) still load
    (run / "config.json").write_text(json.dumps({**saved, "eval_particles": 3, "epochs": 5}))
    load_run(run, checkpoint="best")


def test_load_run_in_python_takes_a_checkpoint(finished, tmp_path):
    final, _ = load_run(finished)
    run = _in_training(finished, tmp_path)
    model, cfg, weights = load_run_weights(run, checkpoint="best")
    assert not model.training and cfg["latent_dim"] == TINY_RUN["latent_dim"]
    want = final.state_dict()
    assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())
    epoch = _best_epoch(run)
    assert weights.label == f"ckpt-best-e{epoch:05d}" and weights.path.name == CKPT
    # best and last are the checkpoint's best.* and model.* tensors, told apart
    path = run / "checkpoints" / CKPT
    tensors, meta = load_tensors(path)
    moved = {
        k: v + 0.5 if k.startswith("model.") and v.is_floating_point() else v
        for k, v in tensors.items()
    }
    save_tensors(path, moved, meta)
    last, _ = load_run(run, checkpoint="last")
    best, _ = load_run(run, checkpoint="best")
    assert not last.training and not best.training
    for k, v in last.state_dict().items():
        assert torch.equal(v, moved[f"model.{k}"]) and torch.equal(
            best.state_dict()[k], moved[f"best.{k}"]
        )
    assert not torch.equal(last.state_dict()["posterior.loc.weight"], want["posterior.loc.weight"])
    _, _, again = load_run_weights(run, checkpoint="last")
    assert again.describe() == f"last of {CKPT} (epoch 2)" and again.weights_epoch == 2
    with pytest.raises(ConfigError, match=r"^checkpoint: expected 'best', 'last' or None"):
        load_run(run, checkpoint="newest")
    with pytest.raises(CheckpointError, match=r"--checkpoint best"):
        load_run(run)
    # the evaluation driver takes it too
    from evaluation.evaluate_command import evaluate

    row, path, reused = evaluate(
        run, settings={"num_particles": 5}, num_images=10, checkpoint="last"
    )
    assert not reused and path.name == "evaluation-test-is-K5-n10-ckpt-last-e00002.json"
    assert row["checkpoint"]["file"] == CKPT


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    run = tmp_path_factory.mktemp("ckpt-eval") / "two"
    train({**TINY_RUN, "epochs": 2, "keep_checkpoints": 2}, run, progress=False)
    return run


def test_a_checkpoint_rotated_away_while_read_gives_way_to_the_newest(
    two_checkpoints, tmp_path, capsys, monkeypatch
):
    """Listing finds epoch 1 newest; before it is opened, training writes epoch 2 and deletes
    epoch 1 (keep_checkpoints = 1): epoch 2 is evaluated."""
    import inference.run_checkpoint as run_checkpoint

    run = _in_training(two_checkpoints, tmp_path)
    folder = run / "checkpoints"
    aside = tmp_path / CKPT
    (folder / CKPT).rename(aside)
    original, opened = run_checkpoint.load_tensors, []

    def training_meanwhile(path, *a, **k):
        opened.append(path.name)
        if path.name == "epoch-00001.safetensors":
            aside.rename(folder / CKPT)
            path.unlink()
        return original(path, *a, **k)

    monkeypatch.setattr(run_checkpoint, "load_tensors", training_meanwhile)
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "last", "--json"]) == 0
    assert _json_row(capsys)["checkpoint"]["file"] == CKPT
    assert opened == ["epoch-00001.safetensors", CKPT]

    # vanishing again at the retry: one line, no traceback
    def always_gone(path, *a, **k):
        path.unlink(missing_ok=True)
        return original(path, *a, **k)

    shutil.copy(folder / CKPT, folder / "epoch-00001.safetensors")
    monkeypatch.setattr(run_checkpoint, "load_tensors", always_gone)
    _refused(["evaluate", str(run), *EVAL, "--checkpoint", "best"], capsys, "no such file")


def test_best_weights_reused_from_a_newer_checkpoint_name_the_checkpoint_read(
    finished, tmp_path, capsys
):
    """Training went on without a better epoch: the newest checkpoint holds the same best
    weights, so their evaluation is reused, and the answer names the checkpoint read now (not
    the one, since rotated away, that the evaluation was first computed from)."""
    run = _in_training(finished, tmp_path)
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "best", "--json"]) == 0
    first = _json_row(capsys)
    old = run / "checkpoints" / CKPT
    tensors, meta = load_tensors(old)
    step = meta["step"] + 1
    metrics = [*meta["metrics"], {**meta["metrics"][-1], "epoch": 3, "step": step}]
    newer = run / "checkpoints" / "epoch-00003.safetensors"
    save_tensors(newer, tensors, {**meta, "epoch": 3, "step": step, "metrics": metrics})
    old.unlink()

    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "best", "--json"]) == 0
    again = _json_row(capsys)
    assert again["weights"] == first["weights"] and again["file"] == first["file"]
    epoch = first["checkpoint"]["weights_epoch"]
    assert again["checkpoint"] == {
        **first["checkpoint"],
        "file": newer.name,
        "epoch": 3,
        "weights": f"best of {newer.name} (best epoch {epoch})",
    }
    assert json.loads((run / first["file"]).read_text()) == again  # --json is the file
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "best"]) == 0
    text = capsys.readouterr().out
    assert f"best of {newer.name} (best epoch {epoch})" in text and "(reused" in text


def test_a_truncated_newest_checkpoint_names_the_one_before(two_checkpoints, tmp_path, capsys):
    """A newest checkpoint cut short (a full disk) is refused in one line naming it, and, as
    `pgm train --resume` does, the good one before it."""
    run = _in_training(two_checkpoints, tmp_path)
    path = run / "checkpoints" / CKPT
    path.write_bytes(path.read_bytes()[:3000])
    _refused(
        ["evaluate", str(run), *EVAL, "--checkpoint", "best"],
        capsys,
        f"{path}: expected a complete pgm safetensors file",
        "move it away to read epoch-00001.safetensors instead",
    )
    path.unlink()
    assert main(["evaluate", str(run), *EVAL, "--checkpoint", "last", "--json"]) == 0
    assert _json_row(capsys)["checkpoint"]["file"] == "epoch-00001.safetensors"


@pytest.mark.parametrize("bad", [["best"], {"best": 1}, True, "Best"])
def test_a_checkpoint_other_than_best_or_last_is_refused_in_one_line(bad, tmp_path):
    """Checked first, whatever its type (a list is unhashable: no TypeError)."""
    with pytest.raises(ConfigError, match=r"^checkpoint: expected 'best', 'last' or None"):
        load_run(tmp_path, checkpoint=bad)


def test_a_run_given_as_dot_is_named_by_its_folder(finished, tmp_path, capsys, monkeypatch):
    run = _in_training(finished, tmp_path)
    monkeypatch.chdir(run / "checkpoints")
    assert main(["evaluate", "..", *EVAL, "--checkpoint", "last", "--json"]) == 0
    assert _json_row(capsys)["model"] == "run"
    monkeypatch.chdir(run)
    assert main(["evaluate", ".", *EVAL, "--checkpoint", "best"]) == 0
    assert capsys.readouterr().out.startswith("run on the test split")


def test_sample_reads_a_run_still_training_from_its_checkpoint(finished, tmp_path, capsys):
    """``pgm sample`` on a run without model.safetensors names --checkpoint (which it has,
    as ``pgm evaluate`` does), and with it draws from the best or current weights, saying which;
    the best weights so far draw what the final weights draw, with the same seed."""
    whole = Path(shutil.copytree(finished, tmp_path / "whole"))
    grid = tmp_path / "final.png"
    assert main(["sample", str(whole), "-n", "4", "--out", str(grid), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == "model.safetensors"
    run = _in_training(finished, tmp_path)
    assert main(["sample", str(run), "-n", "4", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pgm sample: error: run: expected ") and len(err.splitlines()) == 1
    assert (
        "`pgm evaluate` and `pgm sample` read its best weights so far with --checkpoint best"
        in (err)
    )
    assert not (tmp_path / "x.png").exists()
    best = tmp_path / "best.png"
    assert main(["sample", str(run), "-n", "4", "--out", str(best), "--checkpoint", "best"]) == 0
    epoch = _best_epoch(run)
    assert (
        capsys.readouterr().out.strip().endswith(f"(weights: best of {CKPT} (best epoch {epoch}))")
    )
    assert best.read_bytes() == grid.read_bytes()
    assert main(["sample", str(run), "-n", "4", "--out", str(best), "--checkpoint", "last"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"(weights: last of {CKPT} (epoch 2))")
