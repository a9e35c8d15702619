"""Issue 20, files destroyed: no --out over a run's own files or into its checkpoints/, locks
and written files never follow a symbolic link, labels and reproduction rows are safe names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from inference.atomic_write import atomic_write, atomic_write_bytes
from inference.config import ConfigError
from inference.out_path import check_file_out, check_folder_out, check_name
from inference.run_lock import RunLock


@pytest.fixture
def run(tmp_path) -> Path:
    """A folder shaped like a trained run (what the checks look at), its files' contents known."""
    run = tmp_path / "runs" / "vae"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text('{"model": "vae"}')
    (run / "model.safetensors").write_bytes(b"weights")
    (run / "metrics.jsonl").write_text("{}\n")
    return run


@pytest.mark.parametrize(
    "name",
    [
        "model.safetensors",
        "config.json",
        "metrics.jsonl",
        ".pgm-lock",
        "checkpoints/x.png",
        "tensorboard/events.out.tfevents.1",  # was: the run's TensorBoard log overwritten
    ],
)
def test_a_file_out_over_a_run_file_is_refused(run, name):
    with pytest.raises(ConfigError, match="--out: expected a new file or a PNG") as err:
        check_file_out(run / name)
    assert "\n" not in str(err.value)


def test_a_file_out_through_a_link_to_a_run_file_is_refused(run, tmp_path):
    link = tmp_path / "innocent.png"
    os.symlink(run / "model.safetensors", link)
    with pytest.raises(ConfigError, match="one of the files of the run"):
        check_file_out(link)


def test_a_png_beside_the_run_and_a_file_elsewhere_are_accepted(run, tmp_path):
    assert check_file_out(run / "samples.png") == run / "samples.png"
    assert check_file_out(tmp_path / "x.png") == tmp_path / "x.png"


def test_folder_outs_inside_a_run_or_holding_the_runs_are_refused(run, tmp_path):
    for out in (run, run / "checkpoints", run / "checkpoints" / "new"):
        with pytest.raises(ConfigError, match="apart from any run"):
            check_folder_out(out, runs=[run])
    with pytest.raises(ConfigError, match="the folder that holds"):
        check_folder_out(run.parent, runs=[run])
    with pytest.raises(ConfigError, match="which holds the run"):
        check_folder_out(run.parent, runs=[])
    assert check_folder_out(run.parent, holds_runs=True) == run.parent  # suite, reproduce
    assert check_folder_out(tmp_path / "report", runs=[run]) == tmp_path / "report"


@pytest.mark.parametrize("inside", ["checkpoints/new", "sub/deeper"])
def test_a_new_run_inside_another_run_is_refused(run, tmp_path, inside):
    """``pgm train --out RUN/checkpoints/x`` trained a run into another run's checkpoints."""
    from inference.run_folder import RunFolder

    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    link = tmp_path / "link"
    os.symlink(run, link)
    for out in (run / inside, link / inside):
        with pytest.raises(ConfigError, match="apart from any other run; found .*inside the run"):
            RunFolder(out).check({"model": "vae"}, resume=False)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    assert RunFolder(tmp_path / "elsewhere").check({"model": "vae"}, resume=False) is False


@pytest.mark.parametrize("bad", ["../../x", "a/b", ".hidden", "-x", "", "x" * 101, 3])
def test_unsafe_names_are_refused(bad):
    with pytest.raises(ConfigError, match="--label: expected a label"):
        check_name(bad, "--label", "a label")


def test_safe_names_pass():
    assert check_name("vae-vamp_2.1+iaf", "--label") == "vae-vamp_2.1+iaf"


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_lock_that_is_no_regular_file_is_refused_in_one_line(tmp_path, kind):
    """A folder at RUN/.pgm-lock gave "[Errno 21] Is a directory", naming no argument."""
    lock = tmp_path / ".pgm-lock"
    lock.mkdir() if kind == "folder" else os.mkfifo(lock)
    with pytest.raises(ConfigError, match=r"^--out: expected the lock file .* regular file"):
        RunLock(tmp_path)


def test_a_lock_that_is_a_symlink_is_refused_and_its_target_unchanged(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "run"
    folder.mkdir()
    os.symlink(victim, folder / ".pgm-lock")
    with pytest.raises(ConfigError, match="found a symbolic link") as err:
        RunLock(folder)
    assert "\n" not in str(err.value)
    assert victim.read_text() == "precious"


def test_a_dangling_lock_symlink_creates_nothing_at_its_target(tmp_path):
    target = tmp_path / "elsewhere" / "made.txt"
    target.parent.mkdir()
    folder = tmp_path / "run"
    folder.mkdir()
    os.symlink(target, folder / ".pgm-lock")
    with pytest.raises(ConfigError, match="symbolic link"):
        RunLock(folder)
    assert not target.exists()


def test_a_stale_lock_file_left_by_a_dead_holder_is_taken(tmp_path):
    (tmp_path / ".pgm-lock").write_text("999999\n")  # a SIGKILLed holder's file: no flock held
    lock = RunLock(tmp_path)
    assert not lock.created
    assert (tmp_path / ".pgm-lock").read_text() == f"{os.getpid()}\n"
    lock.release(remove=True)
    assert not (tmp_path / ".pgm-lock").exists()


@pytest.mark.parametrize("how", ["bytes", "path"])
def test_an_atomic_write_over_a_symlink_replaces_the_link_not_its_target(tmp_path, how):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.json"
    os.symlink(victim, link)
    if how == "bytes":
        atomic_write_bytes(link, b"new")
    else:
        atomic_write(link, lambda p: p.write_bytes(b"new"))
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and link.read_bytes() == b"new"


def test_reproduction_rows_are_checked_before_use(tmp_path):
    from evaluation.reproduce import read_rows

    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "reproduction.json").write_text(json.dumps({"row": "../../escaped"}))
    with pytest.raises(ConfigError, match="found row '../../escaped'"):
        read_rows(tmp_path)
    (tmp_path / "evil" / "reproduction.json").write_text('{"row": "pixelcnn", "va')
    with pytest.raises(ConfigError, match="unreadable"):
        read_rows(tmp_path)
    (tmp_path / "evil").rename(tmp_path / "pixelcnn")
    (tmp_path / "pixelcnn" / "reproduction.json").write_text(json.dumps({"row": "pixelcnn"}))
    # named well but missing what the table reads: refused now, not by a KeyError after training
    with pytest.raises(ConfigError, match="found model, data, recipe, citation, published_nats"):
        read_rows(tmp_path)


def test_cli_refuses_before_any_work(run, tmp_path, capsys):
    from pgm_cli.main import main

    before = (run / "model.safetensors").read_bytes()
    code = main(["sample", str(run), "--out", str(run / "model.safetensors")])
    assert code == 2 and (run / "model.safetensors").read_bytes() == before
    code = main(["compare", "--label", f"../../x={run}", "--out", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert code == 2 and "--label" in err and len(err.strip().splitlines()) == 2
    assert not (tmp_path / "rep").exists()


def test_sample_memory_counts_the_grid():
    from evaluation.images import check_image_memory
    from pgm.errors import PgmError

    with pytest.raises(PgmError, match="-n: expected a request that fits in memory"):
        check_image_memory(10**7, 10**7, (1, 8, 8), "-n")
    check_image_memory(4, 4, (1, 8, 8), "-n")  # a few images fit
    with pytest.raises(PgmError, match=r"^-n/--scale: .*at --scale 100,000"):
        check_image_memory(64, 64, (1, 8, 8), "-n", scale=10**5)  # the grid, not -n


def test_a_batch_larger_than_the_training_split_is_not_refused_for_memory():
    """A batch holds at most the whole split: batch_size = 10^8 on 100 images was refused as
    95 GiB, while batch_size = 5000 trained (full batch)."""
    import torch

    from inference.config import resolve_config
    from inference.run import check_memory
    from pgm.data import ImageDataset
    from pgm.errors import PgmError

    data = ImageDataset("tiny", "train", torch.zeros(100, 1, 8, 8, dtype=torch.uint8), 17)
    cfg = resolve_config(
        {"model": "vae", "latent_dim": 2, "hidden_dim": 8, "batch_size": 10**8},
        image_shape=[1, 8, 8],
        num_levels=17,
    )
    check_memory(cfg, data)
    with pytest.raises(PgmError, match=r"^batch_size/num_particles: expected a request"):
        check_memory({**cfg, "num_particles": 10**9}, data)


@pytest.fixture
def alarm():
    """Fail, rather than hang, a read that never ends (a FIFO, /dev/zero)."""
    import signal

    def hung(*_):
        raise TimeoutError("the read did not end")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_a_run_file_that_is_no_small_regular_file_is_refused_not_read(run, kind, alarm):
    """config.json or metrics.jsonl as a FIFO hung every command that opened the run; linked to
    /dev/zero it filled memory; a 300 MB one was read whole (and printed whole). Each is refused
    by name, never read."""
    from inference import run_folder
    from inference.run import read_metrics
    from inference.run_folder import read_json_object

    for name, read in (
        ("config.json", lambda p: read_json_object(p, "run")),
        ("metrics.jsonl", lambda p: read_metrics(p.parent)),
    ):
        path = run / name
        path.unlink()
        if kind == "fifo":
            os.mkfifo(path)
            expected = "to be a regular file; found a FIFO"
        elif kind == "dev-zero":
            os.symlink("/dev/zero", path)
            expected = "to be a regular file; found a character device"
        else:
            path.write_bytes(b"{}" + b" " * 2048)
            expected = "of at most 1,024 bytes"
        limit = 1024 if kind == "huge" else run_folder.MAX_RUN_TEXT_BYTES
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(run_folder, "MAX_RUN_TEXT_BYTES", limit)
            mp.setattr(run_folder.read_run_text, "__defaults__", (limit,))
            # metrics.jsonl as a FIFO was read as no metrics at all: compare then left the run
            # out of its convergence warnings, so it is refused like config.json
            with pytest.raises(ConfigError, match=expected) as err:
                read(path)
        assert str(err.value).startswith("run: expected") and "\n" not in str(err.value)


def test_a_config_difference_shows_values_cut_short():
    from inference.fingerprint import config_differences

    (line,) = config_differences({"model": "vae"}, {"model": "x" * 10**6})
    assert line.startswith("model (run has 'vae', given 'xxx") and len(line) < 200
