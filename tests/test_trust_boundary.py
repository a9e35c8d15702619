"""The trust boundary: a command imports only the code its user named (``--plugin``, their own
config file, an installed entry point). A run folder's record of its plug-ins is data: it is
checked against what was named (sha256, before the import), never used to find code to run.

Every plug-in here appends to a marker file when imported, so "nothing ran" is observed, not
inferred: each refusal asserts the marker stayed absent."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from tiny_run import TINY_RUN

import pgm
from inference import load_run
from inference.fingerprint import fingerprint
from pgm import plugins
from pgm.plain_model import MODEL_KEYS
from pgm.run_plugins import check_records
from pgm_cli.main import main

MARKING = """
from pathlib import Path

with open({marker!r}, "a") as f:
    f.write("imported\\n")

import pgm
from pgm.priors import StandardNormalPrior


@pgm.PRIORS.register("{tag}-mark", "N(0, I), from a plug-in that leaves a marker")
def _prior(cfg):
    return StandardNormalPrior(cfg["latent_dim"])
"""


@pytest.fixture(autouse=True)
def _forget_plugins():
    saved, keys = plugins.snapshot(), dict(MODEL_KEYS)
    yield
    plugins.restore(saved)
    MODEL_KEYS.clear()
    MODEL_KEYS.update(keys)


def _toml(path: Path, cfg: dict) -> Path:
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in cfg.items()))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained with a marking plug-in (``--plugin``), and an ordinary run; the plug-in is
    forgotten afterwards, as in a fresh process."""
    root = tmp_path_factory.mktemp("trust")
    tag = f"t{uuid.uuid4().hex[:8]}"
    marker = root / "marker.txt"
    plugin = root / "src" / f"markplug_{tag}.py"
    plugin.parent.mkdir()
    plugin.write_text(textwrap.dedent(MARKING).format(marker=str(marker), tag=tag))
    saved = plugins.snapshot()
    conf = _toml(root / "mark.toml", {**TINY_RUN, "prior": f"{tag}-mark"})
    run = root / "markrun"
    argv = ["train", str(conf), "--out", str(run), "--plugin", str(plugin), "--no-progress"]
    assert main(argv) == 0
    plain = root / "plain"
    plain_conf = _toml(root / "plain.toml", TINY_RUN)
    assert main(["train", str(plain_conf), "--out", str(plain), "--no-progress"]) == 0
    plugins.restore(saved)
    assert plugin.stem not in sys.modules and marker.is_file()
    marker.unlink()
    return {"run": run, "plain": plain, "plugin": plugin, "marker": marker, "tag": tag}


def _copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst))


def _refused(argv: list[str], capsys, *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "{run}", "--num-images", "4", "--no-progress"],
        ["evaluate", "{run}", "--checkpoint", "best", "--num-images", "4", "--no-progress"],
        ["sample", "{run}", "-n", "4", "--out", "{tmp}/s.png"],
        ["bdmc", "{run}", "--num-images", "2", "--steps", "2", "--chains", "1", "--no-progress"],
        ["compare", "{run}", "{plain}", "--out", "{tmp}/cmp", "-k", "2", "--no-progress"],
        ["suite", "--out", "{tmp}/suite", "--models", "vae", "--add", "{run}", "--no-progress"],
        ["train", "--out", "{run}", "--resume", "--set", "epochs=2", "--no-progress"],
    ],
    ids=["evaluate", "evaluate-checkpoint", "sample", "bdmc", "compare", "suite-add", "resume"],
)
def test_a_copied_run_never_imports_its_recorded_plugin(trained, tmp_path, capsys, command):
    run = _copy(trained["run"], tmp_path / "copy")
    argv = [a.format(run=run, plain=trained["plain"], tmp=tmp_path) for a in command]
    sha = hashlib.sha256(trained["plugin"].read_bytes()).hexdigest()
    _refused(
        argv,
        capsys,
        f"was trained with plug-in {trained['plugin'].name}",
        f"sha256 {sha[:12]}",
        f"pass --plugin {trained['plugin']} (the file the run records; or your copy of it, "
        "once you trust its code)",
    )
    assert not trained["marker"].exists()


def test_the_hint_never_names_a_file_config_json_points_at_other_code(trained, tmp_path, capsys):
    """config.json is the run's text: with its record's ``file`` and ``plugin`` edited to
    another file (its module and sha256 kept), the refusal told the user to pass that file.
    The hint names a recorded file only when it is the recorded module's file."""
    run = _copy(trained["run"], tmp_path / "copy")
    config = json.loads((run / "config.json").read_text())
    evil = tmp_path / "evilmod.py"
    for record in config["plugins"]:
        record["file"] = record["plugin"] = str(evil)
    (run / "config.json").write_text(json.dumps(config))
    err = _refused(["evaluate", str(run), "--no-progress"], capsys, "pass --plugin")
    assert "evilmod" not in err and f"pass --plugin {trained['plugin'].stem}" in err


def test_load_run_in_python_refuses_without_the_plugin(trained, tmp_path):
    run = _copy(trained["run"], tmp_path / "copy")
    with pytest.raises(pgm.PluginError, match="pass --plugin"):
        load_run(run)
    assert not trained["marker"].exists()
    pgm.load_plugins(str(trained["plugin"]))  # named: it runs, and the run loads
    model, _ = load_run(run)
    assert trained["marker"].read_text() == "imported\n"
    trained["marker"].unlink()


def test_the_named_plugin_from_anywhere_serves_the_run(trained, tmp_path, capsys):
    """The same code (same sha256) copied elsewhere and passed with --plugin: evaluated."""
    run = _copy(trained["run"], tmp_path / "copy")
    copy = tmp_path / "elsewhere" / trained["plugin"].name
    copy.parent.mkdir()
    shutil.copy(trained["plugin"], copy)
    argv = ["evaluate", str(run), "--plugin", str(copy), "--num-images", "4", "--no-progress"]
    assert main(argv + ["--json"]) == 0, capsys.readouterr().err
    assert trained["marker"].read_text() == "imported\n"
    trained["marker"].unlink()


@pytest.mark.parametrize("resume", [False, True], ids=["evaluate", "resume"])
def test_a_changed_plugin_is_refused_before_it_is_imported(trained, tmp_path, capsys, resume):
    run = _copy(trained["run"], tmp_path / "copy")
    changed = tmp_path / "new" / trained["plugin"].name
    changed.parent.mkdir()
    changed.write_text(trained["plugin"].read_text() + "\n# edited since training\n")
    argv = (
        ["train", "--out", str(run), "--resume", "--set", "epochs=2"]
        if resume
        else ["evaluate", str(run), "--num-images", "4"]
    )
    argv += ["--plugin", str(changed), "--no-progress"]
    _refused(argv, capsys, "another version", "not run")
    assert not trained["marker"].exists()


@pytest.mark.parametrize("resume", [False, True], ids=["evaluate", "resume"])
@pytest.mark.parametrize("edit", ["removed", "null"])
def test_a_record_without_a_sha256_is_named_as_such(trained, tmp_path, capsys, resume, edit):
    """config.json's record of the plug-in with its sha256 removed (or null): the refusal said
    ``given [('markplug_…', 'None')]``, as if 'None' were the recorded sha256."""
    run = _copy(trained["run"], tmp_path / "copy")
    cfg = json.loads((run / "config.json").read_text())
    record = cfg["plugins"][0]
    if edit == "removed":
        del record["sha256"]
    else:
        record["sha256"] = None
    (run / "config.json").write_text(json.dumps(cfg))
    argv = (
        ["train", "--out", str(run), "--resume", "--set", "epochs=2"]
        if resume
        else ["evaluate", str(run), "--num-images", "4"]
    )
    argv += ["--plugin", str(trained["plugin"]), "--no-progress"]
    sha = hashlib.sha256(trained["plugin"].read_bytes()).hexdigest()
    err = _refused(
        argv,
        capsys,
        f"found the record of plug-in {trained['plugin'].stem!r} in config.json with no sha256 "
        f"(the weights record sha256 {sha[:12]}…) (config.json was edited; restore it in {run})",
    )
    assert "None" not in err
    trained["marker"].unlink(missing_ok=True)


@pytest.mark.parametrize(
    "entry",
    [
        lambda evil: str(evil),  # a path string where a record belongs
        lambda evil: {"plugin": str(evil), "module": evil.stem, "sha256": _sha(evil)},
        lambda evil: {"module": "this"},  # any installed module by name
    ],
    ids=["path", "record", "module-record"],
)
def test_plugins_added_to_an_ordinary_runs_config_are_refused(trained, tmp_path, capsys, entry):
    """config.json is compared with the config stored with the weights, plugins included."""
    run = _copy(trained["plain"], tmp_path / "copy")
    evil_marker = tmp_path / "evil-ran.txt"
    evil = tmp_path / f"evil_{uuid.uuid4().hex[:6]}.py"
    evil.write_text(f"open({str(evil_marker)!r}, 'w').write('ran')\n")
    cfg = json.loads((run / "config.json").read_text())
    cfg["plugins"] = [entry(evil)]
    (run / "config.json").write_text(json.dumps(cfg))
    _refused(["evaluate", str(run), "--num-images", "4", "--no-progress"], capsys, "plugins")
    assert not evil_marker.exists() and "this" not in sys.modules


@pytest.mark.parametrize("named", [False, True], ids=["not-named", "named"])
def test_resume_of_an_edited_config_refuses_before_advising_a_plugin(
    trained, tmp_path, capsys, named
):
    """``train --resume`` with a module planted in config.json's plugins: refused as an edited
    config.json, never answered with "pass --plugin M" (following that advice ran M), and,
    when the user does name the planted file, refused before it is imported."""
    run = _copy(trained["plain"], tmp_path / "copy")
    (run / "model.safetensors").unlink()  # a run still training: the checkpoint is the record
    evil_marker = tmp_path / "evil-ran.txt"
    evil = tmp_path / f"evil_{uuid.uuid4().hex[:6]}.py"
    evil.write_text(f"open({str(evil_marker)!r}, 'w').write('ran')\n")
    cfg = json.loads((run / "config.json").read_text())
    cfg["plugins"] = [{"module": evil.stem}]
    (run / "config.json").write_text(json.dumps(cfg))
    argv = ["train", "--resume", "--out", str(run), "--no-progress"]
    argv += ["--plugin", str(evil)] if named else []
    err = _refused(argv, capsys, "config.json was edited")
    assert "pass --plugin" not in err and str(run / "checkpoints") in err
    assert not evil_marker.exists() and evil.stem not in sys.modules
    # the checkpoint unreadable: refused as such, still before any advice or import
    newest = next((run / "checkpoints").glob("epoch-*.safetensors"))
    os.truncate(newest, 100)
    err = _refused(argv, capsys, f"{newest}: expected a complete pgm safetensors file")
    assert "pass --plugin" not in err
    assert not evil_marker.exists() and evil.stem not in sys.modules


def test_a_malformed_record_names_the_run_it_is_in(trained, tmp_path, capsys):
    """Among several runs (``compare``), the refusal names the run whose config.json is bad."""
    bad = _copy(trained["plain"], tmp_path / "bad")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["plugins"] = [1]
    (bad / "config.json").write_text(json.dumps(cfg))
    argv = ["compare", str(trained["plain"]), str(bad), "--out", str(tmp_path / "cmp")]
    _refused(argv, capsys, f"in 'plugins' of the config.json of run {bad}", "found 1")


@pytest.mark.parametrize(
    "plugins",
    [[{"module": "a" * 200_000}], ["a" * 200_000], [{"module": "m", "version": ["v" * 200_000]}]],
    ids=["long-module", "long-string", "long-version"],
)
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_huge_record_is_refused_in_a_line_of_reasonable_length(
    trained, tmp_path, capsys, plugins, command
):
    """A 200 KB value planted in config.json's plugins is shown cut short, not echoed whole
    (it was, in a 200-400 KB line)."""
    run = _copy(trained["plain"], tmp_path / "copy")
    cfg = json.loads((run / "config.json").read_text())
    cfg["plugins"] = plugins
    (run / "config.json").write_text(json.dumps(cfg))
    argv = (
        ["evaluate", str(run), "--num-images", "4", "--no-progress"]
        if command == "evaluate"
        else ["train", "--resume", "--out", str(run), "--no-progress"]
    )
    err = _refused(argv, capsys, "plugins")
    assert len(err) < 1000, len(err)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_folder_shipping_its_own_helpers_is_not_read_from_the_working_folder(
    trained, tmp_path, capsys, monkeypatch
):
    """A relative record next to the run, evaluated from inside the run folder: not imported."""
    run = _copy(trained["run"], tmp_path / "copy")
    helper_marker = tmp_path / "helper-ran.txt"
    name = f"helpers_{uuid.uuid4().hex[:6]}"
    (run / f"{name}.py").write_text(f"open({str(helper_marker)!r}, 'w').write('ran')\n")
    cfg = json.loads((run / "config.json").read_text())
    cfg["plugins"] = [{"plugin": f"{name}.py", "module": name, "sha256": None}]
    (run / "config.json").write_text(json.dumps(cfg))
    monkeypatch.chdir(run)
    _refused(["evaluate", ".", "--num-images", "4", "--no-progress"], capsys, "plugins")
    assert not helper_marker.exists() and name not in sys.modules


def test_a_record_alone_imports_nothing():
    with pytest.raises(pgm.PluginError, match="pass --plugin this to load it"):
        check_records([{"module": "this", "sha256": None}], "plugins", "run R")
    assert "this" not in sys.modules
    with pytest.raises(pgm.PluginError, match="cannot name code to run"):
        check_records(["/abs/evil.py"], "plugins", "run R")


@pytest.mark.parametrize(
    "record, found",
    [
        ({"module": "/abs/evil.py"}, "found 'module' '/abs/evil.py', which is not a dotted"),
        ({"file": "/abs/evil.py"}, "found a record without one"),
        ({"module": "m", "sha256": 3}, "found 'sha256' 3, expected a string or null"),
        ({"module": "m", "file": ["/abs/evil.py"]}, "found 'file' ['/abs/evil.py'], expected"),
    ],
)
def test_a_malformed_record_is_refused_saying_what_is_wrong(record, found):
    """Each malformed record is refused by what is wrong with it, before anything is read."""
    with pytest.raises(pgm.PluginError) as err:
        check_records([record], "plugins", "run R")
    assert "cannot name code to run" in str(err.value) and found in str(err.value)
    assert "evil" not in sys.modules


def test_relative_paths_only_from_a_command_line_or_a_config_file(tmp_path, monkeypatch):
    (tmp_path / "rel_plug.py").write_text("X = 1\n")
    monkeypatch.chdir(tmp_path)
    cfg = {"plugins": ["rel_plug.py"], "image_shape": [1, 8, 8], "num_levels": 17}
    with pytest.raises(pgm.PluginError, match="expected a module name or an absolute path"):
        pgm.build(cfg)  # a dict: no folder to read it from
    assert "rel_plug" not in sys.modules
    assert plugins.name_plugins(["rel_plug.py"]) == [str(tmp_path / "rel_plug.py")]  # typed


FAILING = {
    "raises": ("raise RuntimeError('no GPU here')\n", "RuntimeError: no GPU here (line 1)"),
    "syntax": ("def f(:\n", "expected {path} to be valid Python; found invalid syntax (line 1)"),
    "exits": ("import sys\nsys.exit(3)\n", "calling sys.exit(3) (line 2)"),
}


@pytest.mark.parametrize("kind", FAILING)
def test_a_plugin_failing_on_import_is_one_line_naming_it(tmp_path, capsys, kind):
    text, message = FAILING[kind]
    path = tmp_path / f"fails_{kind}_{uuid.uuid4().hex[:6]}.py"
    path.write_text(text)
    _refused(["list", "--plugin", str(path)], capsys, message.format(path=path), str(path))
    assert path.stem not in sys.modules


def test_a_plugin_whose_factory_raises_is_one_line_naming_it(tmp_path, capsys):
    tag = f"t{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"badfactory_{tag}.py"
    path.write_text(
        f"import pgm\n\n@pgm.PRIORS.register('{tag}-bad')\ndef _bad(cfg):\n    return 1 / 0\n"
    )
    conf = _toml(tmp_path / "c.toml", {**TINY_RUN, "prior": f"{tag}-bad"})
    argv = ["train", str(conf), "--out", str(tmp_path / "r"), "--plugin", str(path)]
    _refused(argv + ["--no-progress"], capsys, f"prior '{tag}-bad'", path.stem, "ZeroDivisionError")
    assert not (tmp_path / "r").exists()


def test_what_a_plugin_prints_on_import_does_not_spoil_json(tmp_path, capsys):
    """A plug-in printing a banner when imported put it before ``pgm list --json``'s JSON."""
    path = tmp_path / f"banner_{uuid.uuid4().hex[:8]}.py"
    path.write_text("print('my models, version 1')\nimport pgm\n")
    assert main(["list", "--json", "--plugin", str(path)]) == 0
    captured = capsys.readouterr()
    assert "models" in json.loads(captured.out)
    assert "my models, version 1" in captured.err


@pytest.mark.parametrize("name", ["html", "json"])
def test_a_plugin_may_not_shadow_another_module(tmp_path, capsys, name):
    path = tmp_path / f"{name}.py"
    path.write_text("raise SystemExit('shadowing module ran')\n")
    _refused(["list", "--plugin", str(path)], capsys, "rename the file", str(path))
    assert getattr(sys.modules.get(name), "__file__", "") != str(path)


def test_an_entry_point_that_exits_is_one_warning_and_pgm_goes_on(tmp_path, capsys, monkeypatch):
    tag = f"t{uuid.uuid4().hex[:8]}"
    (tmp_path / f"ep_exit_{tag}.py").write_text("import sys\nsys.exit(3)\n")
    info = tmp_path / f"pgm_exit_{tag}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pgm-exit-{tag}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[pgm.plugins]\nquits = ep_exit_{tag}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(plugins._state, "entry_points", False)  # as in a fresh process
    with pytest.warns(pgm.PluginWarning) as caught:
        assert main(["list"]) == 0  # not ended with the entry point's status 3
    (warning,) = [str(w.message) for w in caught]
    assert f"quits = ep_exit_{tag}" in warning and "sys.exit(3)" in warning
    assert "\n" not in warning and "vamp" in capsys.readouterr().out


def test_recorded_plugins_are_part_of_the_fingerprint():
    base = {"model": "vae", "latent_dim": 2}
    record = {"module": "m", "sha256": "a" * 64, "file": "/x/m.py"}
    moved = {**record, "file": "/elsewhere/m.py"}
    changed = {**record, "sha256": "b" * 64}
    assert fingerprint({**base, "plugins": [record]}, None) != fingerprint(base, None)
    assert fingerprint({**base, "plugins": [record]}, None) == fingerprint(
        {**base, "plugins": [moved]}, None
    )
    assert fingerprint({**base, "plugins": [record]}, None) != fingerprint(
        {**base, "plugins": [changed]}, None
    )


@pytest.mark.parametrize("module", ["pgm_cli", "pgm_cli.main"])
def test_python_dash_m_does_not_import_from_the_working_folder(tmp_path, module):
    """``python -m pgm_cli`` puts the current folder first on sys.path: a shared run folder
    one cds into, holding an ``argparse.py``, had it imported by ``pgm --help``."""
    import subprocess

    marker = tmp_path / "marker"
    (tmp_path / "argparse.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_a_linked_checkpoints_folder_is_refused_before_anything_is_written(
    trained, tmp_path, capsys
):
    """A run folder whose checkpoints/ links to another run's: a resume would write there and
    prune that run's checkpoints (it did: the other run lost its epoch and later resumed from
    this one's). Refused in one line; both folders stay as they were."""
    other = _copy(trained["plain"], tmp_path / "other")
    run = _copy(trained["plain"], tmp_path / "run")
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").symlink_to(other / "checkpoints")
    before = sorted(p.name for p in (other / "checkpoints").iterdir())
    argv = ["train", "--resume", "--out", str(run), "--set", "epochs=3", "--no-progress"]
    _refused(argv, capsys, f"{run / 'checkpoints'} to be the run's own folder; found a link")
    assert sorted(p.name for p in (other / "checkpoints").iterdir()) == before


def test_from_checks_an_edited_config_against_the_checkpoint_when_the_weights_are_gone(
    trained, tmp_path, capsys
):
    """``--from`` of a run whose model.safetensors is unreadable: the edited config.json is
    checked against the newest checkpoint (it was accepted unchecked), and with no readable
    record at all the unreadable file is refused by name."""
    run = _copy(trained["plain"], tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    cfg["latent_dim"] += 1
    (run / "config.json").write_text(json.dumps(cfg))
    os.truncate(run / "model.safetensors", 100)
    argv = ["train", "--from", str(run), "--out", str(tmp_path / "new"), "--no-progress"]
    _refused(argv, capsys, "latent_dim", "config.json was edited")
    newest = next((run / "checkpoints").glob("epoch-*.safetensors"))
    os.truncate(newest, 100)
    _refused(argv, capsys, f"{newest}: expected a complete pgm safetensors file")
    assert not (tmp_path / "new").exists()
