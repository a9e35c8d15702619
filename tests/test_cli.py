"""The ``pgm`` command end to end in a temporary folder: train -> evaluate -> sample, list,
suite."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pgm
from inference import load_run
from pgm.completion import complete, observed_mask
from pgm_cli.main import main

TINY = """
data = "digits"
model = "vae"
latent_dim = 4
hidden_dim = 32
epochs = 2
batch_size = 64
num_train = 256
lr = 3e-3
device = "cpu"
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_train_evaluate_sample(tmp_path, config, capsys):
    run = tmp_path / "run"
    assert (
        main(["train", str(config), "--out", str(run), "--set", "prior=vamp", "--no-progress"]) == 0
    )
    saved = json.loads((run / "config.json").read_text())
    assert (
        saved["prior"] == "vamp" and saved["image_shape"] == [1, 8, 8] and saved["num_levels"] == 17
    )
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (run / "model.safetensors").is_file()
    capsys.readouterr()

    assert (
        main(
            [
                "evaluate",
                str(run),
                "--num-particles",
                "20",
                "--num-images",
                "30",
                "--no-progress",
                "--json",
            ]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["num_particles"] == 20 and row["num_images"] == 30 and row["num_dims"] == 64
    assert row["elbo_nats"] <= row["log_likelihood_nats"] < 0
    assert row["bits_per_dim"] == pytest.approx(
        -row["log_likelihood_nats"] / (64 * 0.6931471805599453)
    )
    assert (
        json.loads((run / "evaluation-test-is-K20-n30.json").read_text())["log_likelihood_nats"]
        == row["log_likelihood_nats"]
    )
    lo, hi = row["ci95"]
    assert lo <= row["log_likelihood_nats"] <= hi and row["standard_error_nats"] > 0
    assert (
        row["psis_khat_unreliable_fraction"] is None
    )  # K = 20: too few weights for PSIS's tail fit

    # without --json: a summary for a person, its numbers those of the JSON, with a true minus
    assert (
        main(
            ["evaluate", str(run), "--num-particles", "200", "--num-images", "30", "--no-progress"]
        )
        == 0
    )
    text = capsys.readouterr().out
    row = json.loads((run / "evaluation-test-is-K200-n30.json").read_text())
    assert 0 <= row["psis_khat_unreliable_fraction"] <= 1
    assert f"log p(x)   {row['log_likelihood_nats']:.2f}".replace("-", "\u2212") in text
    assert f"SE {row['standard_error_nats']:.3f}" in text and "95% CI [\u2212" in text
    assert f"bits/dim   {row['bits_per_dim']:.4f}" in text and "ELBO" in text
    assert f"{100 * row['psis_khat_unreliable_fraction']:.1f}% of images above 0.7" in text

    # without -k: the one default K that pgm compare uses too
    from evaluation.defaults import DEFAULT_NUM_PARTICLES

    assert main(["evaluate", str(run), "--num-images", "5", "--no-progress", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["num_particles"] == DEFAULT_NUM_PARTICLES

    out = tmp_path / "grid.png"
    assert main(["sample", str(run), "-n", "9", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        capsys.readouterr().out
        == f"9 samples of shape [1, 8, 8] in {out} (weights: model.safetensors)\n"
    )
    assert main(["sample", str(run), "-n", "9", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"] == [9, 1, 8, 8]
    # 3 x 3 images of 8 pixels, 1-pixel padding: 3 * 9 + 1 = 28 pixels, drawn 7x by default
    assert int.from_bytes(out.read_bytes()[16:20], "big") == 28 * 7
    assert main(["sample", str(run), "-n", "9", "--out", str(out), "--scale", "2"]) == 0
    assert int.from_bytes(out.read_bytes()[16:20], "big") == 28 * 2


def test_list_names_every_part(capsys):
    assert main(["list", "--json"]) == 0
    parts = json.loads(capsys.readouterr().out)
    assert {"vae", "autoencoder"} <= set(parts["models"])
    assert {"standard-normal", "diagonal-normal", "mixture", "vamp", "flow"} <= set(parts["priors"])
    assert {"diagonal-normal", "iaf"} <= set(parts["guides"])
    assert {"bernoulli", "categorical", "discretized-logistic", "normal"} <= set(
        parts["likelihoods"]
    )
    assert {
        "digits",
        "digits-binary",
        "binarized-mnist",
        "mnist",
        "fashion-mnist",
        "cifar10",
    } <= set(parts["datasets"])


def test_help_explains_each_command(capsys):
    done = subprocess.run(
        [sys.executable, "-m", "pgm_cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "usage: pgm" in done.stdout and "suite" in done.stdout
    for command in ("train", "evaluate", "sample", "suite", "compare", "list", "complete"):
        assert main([command, "--help"]) == 0
        assert "usage: pgm " + command in capsys.readouterr().out


def test_python_dash_m_pgm_cli_main_runs_a_command(tmp_path):
    """``python -m pgm_cli.main`` runs the whole module before ``main()``: a helper defined
    below the ``__main__`` guard was a NameError on every command that got past parsing."""
    done = subprocess.run(
        [sys.executable, "-m", "pgm_cli.main", "evaluate", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert "NameError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_help_and_version_load_no_torch_pyro_or_arviz():
    """``pgm --help``, ``pgm COMMAND --help`` and ``pgm --version`` build every parser without
    the heavy libraries: they are imported inside a command's ``run``."""
    code = (
        "import sys\n"
        "from pgm_cli.main import main\n"
        "codes = [main(['--help']), main(['suite', '--help']), main(['--version'])]\n"
        "heavy = sorted({'torch', 'pyro', 'arviz', 'matplotlib'} & set(sys.modules))\n"
        "print(codes, heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "[0, 0, 0] []", done.stderr
    from importlib.metadata import PackageNotFoundError, version

    import pgm

    try:
        expected = version("pgm")
    except PackageNotFoundError:
        expected = pgm.__version__
    assert done.stdout.splitlines()[-1] == f"pgm {expected}"


def test_every_command_has_a_description_and_train_names_the_session_keys():
    from inference.fingerprint import SESSION_KEYS
    from pgm_cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert parser.description, f"pgm {name} --help has no description"
    train = sub.choices["train"]
    resume = next(a for a in train._actions if "--resume" in a.option_strings)
    named = {k for k in SESSION_KEYS if re.search(rf"\b{k}\b", resume.help)}
    assert named == set(SESSION_KEYS), sorted(set(SESSION_KEYS) - named)


def test_complete_fills_the_bottom_half(tmp_path, capsys):
    config = tmp_path / "pixelcnn.toml"
    config.write_text(
        'data = "digits-binary"\nmodel = "pixelcnn"\nhidden_channels = 8\n'
        'num_layers = 2\nepochs = 1\nnum_train = 128\ndevice = "cpu"\n'
    )
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), "--no-progress"]) == 0
    images = pgm.load_dataset("digits-binary", "test").images[:3].numpy()
    np.save(tmp_path / "in.npy", images)
    out = tmp_path / "done.png"
    capsys.readouterr()
    assert (
        main(
            [
                "complete",
                str(run),
                "--input",
                str(tmp_path / "in.npy"),
                "--samples",
                "2",
                "--out",
                str(out),
                "--no-progress",
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert {k: summary[k] for k in ("completions", "n", "samples_per_image", "columns")} == {
        "completions": str(out),
        "n": 3,
        "samples_per_image": 2,
        "columns": ["observed", "completion", "completion", "original"],
    }
    assert summary["method"].startswith("exact") and summary["effective_sample_size"] is None
    assert out.read_bytes()[:4] == b"\x89PNG"
    model, _ = load_run(run)
    mask = observed_mask("top-half", model.event_shape)
    x = torch.from_numpy(images).float()
    torch.manual_seed(0)
    filled = complete(model, x, mask)
    assert torch.equal(filled[:, mask], x[:, mask])  # observed pixels kept exactly
    assert ((filled == 0) | (filled == 1)).all()
    # top-half draws no SIR candidates: a huge --candidates was refused for memory all the same
    argv = ["complete", str(run), "--input", str(tmp_path / "in.npy"), "--no-progress"]
    assert main([*argv, "--candidates", str(10**9), "--out", str(tmp_path / "c.png")]) == 0
    capsys.readouterr()
    assert main([*argv, "--observed", "left-half", "--candidates", str(10**9)]) == 2
    assert "--candidates: expected a request that fits in memory" in capsys.readouterr().err


def test_suite_writes_results_and_sample_grids(tmp_path, capsys):
    out = tmp_path / "suite"
    assert (
        main(
            [
                "suite",
                "--out",
                str(out),
                "--models",
                "vae",
                "vae-iwae",
                "autoencoder",
                "--epochs-scale",
                "0.05",
                "--num-particles",
                "10",
                "--no-progress",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    rows = results["models"] if isinstance(results, dict) else results
    assert {r["model"] for r in rows} == {"vae", "vae-iwae"}  # the autoencoder has no density
    for r in rows:
        assert r["num_dims"] == 64 and r["num_particles"] == 10
        assert r["bits_per_dim"] > 0 and r["elbo_nats"] <= r["log_likelihood_nats"]
        assert (out / "figures" / f"samples-{r['model']}.png").is_file()


def test_pgm_alone_prints_its_help():
    done = subprocess.run([sys.executable, "-m", "pgm_cli"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("usage: pgm") and "suite" in done.stdout
    assert done.stderr == ""


def test_list_into_a_closed_pipe_is_quiet():
    # `pgm list --json | head -1`: the reader leaves early; no BrokenPipeError, no traceback
    done = subprocess.run(
        f"{sys.executable} -m pgm_cli list --json | head -1",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert done.stdout == "{\n" and done.stderr == "", done.stderr


def test_compare_help_and_labels(tmp_path, capsys):
    assert main(["compare", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--label NAME=RUN" in text and "(default 500, as pgm suite;" in text
    assert "the data split every model is evaluated on" in text and "first N images" in text
    from evaluation.compared_run import load_runs
    from inference import train

    run = tmp_path / "vae"
    train(
        {
            "data": "digits",
            "model": "vae",
            "epochs": 1,
            "num_train": 64,
            "hidden_dim": 8,
            "latent_dim": 2,
            "device": "cpu",
        },
        run,
        progress=False,
    )
    # copies of the folder: two more runs, each folder named vae
    run2 = shutil.copytree(run, tmp_path / "copy2" / "vae")
    run3 = shutil.copytree(run, tmp_path / "copy3" / "vae")
    assert [r.name for r in load_runs([run, run2, run3], ["baseline", None, None])] == [
        "baseline",
        "vae",
        "vae#2",
    ]
    with pytest.raises(ValueError, match=r"^runs: expected each run folder once; found '.*' more"):
        load_runs([run, run2, run], ["a", "b", "c"])
    with pytest.raises(
        ValueError, match="--label: expected each label once; found 'a' more than once"
    ):
        load_runs([run, run2], ["a", "a"])
    with pytest.raises(
        ValueError, match="--label: expected names unlike the other runs' folder names"
    ):
        load_runs([run, run2], ["vae", None])
    # a clash of names is a usage error on the command line: one line, exit status 2
    assert main(["compare", str(run), "--label", f"vae={run2}", "--out", str(tmp_path / "o")]) == 2
    assert "--label: expected names unlike" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["compare", "--out", str(tmp_path / "o"), "--label", "nameless"]) == 2
    assert "--label: expected NAME=RUN" in capsys.readouterr().err


def test_two_compares_into_one_out_folder_the_second_is_refused(tmp_path, capsys):
    """While one command writes OUT's report (it holds .OUT.pgm-lock beside OUT), another
    command on the same --out is refused in one line naming the holder, and writes nothing;
    once the first is done, the lock file is gone."""
    from tiny_run import TINY_RUN

    from evaluation.report_swap import report_lock
    from inference import train

    run = tmp_path / "vae"
    train(TINY_RUN, run, progress=False)
    out = tmp_path / "deeper" / "report"
    with report_lock(out):
        assert (tmp_path / "deeper" / ".report.pgm-lock").is_file()
        argv = ["compare", str(run), "--out", str(out), "-k", "2", "--num-images", "4"]
        assert main([*argv, "--no-progress", "--curve-images", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert err.startswith(
            f"pgm compare: error: --out: expected a report folder no other process is writing; "
            f"found {out} locked by another process (pid "
        ), err
        assert not out.exists()
    assert not (tmp_path / "deeper").exists()  # created for the lock only, removed again
    # the report written into one of the runs it compares: refused, the run untouched
    before = sorted(p.name for p in run.iterdir())
    assert main(["compare", str(run), "--out", str(run), "--no-progress"]) == 2
    assert "--out: expected a folder apart from any run" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == before
    assert main([*argv, "--no-progress", "--curve-images", "0"]) == 0
    assert (out / "report.html").is_file() and not (
        tmp_path / "deeper" / ".report.pgm-lock"
    ).exists()


def test_evaluate_refuses_a_model_without_a_density(tmp_path, capsys):
    from tiny_run import TINY_RUN

    from inference import train

    run = tmp_path / "ae"
    train({**TINY_RUN, "model": "autoencoder"}, run, progress=False)
    assert main(["evaluate", str(run), "-k", "2", "--num-images", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"pgm evaluate: error: run: expected a model with a density p(x); found {run} holding "
        "model 'autoencoder', which defines none, so there is no log-likelihood to evaluate "
        "(use `pgm compare` for its representation quality)"
    )
    assert not list(run.glob("evaluation-*.json"))


def test_seed_grid_and_group_options(tmp_path, capsys):
    """issue 19: pgm compare --group, pgm suite --seeds/--jobs/--executor; a bad executor is
    refused in one line before anything is trained."""
    assert main(["compare", "--help"]) == 0
    assert "--group NAME=RUN,RUN,..." in " ".join(capsys.readouterr().out.split())
    assert main(["suite", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--seeds SEEDS" in text and "--jobs JOBS" in text and "--executor local|slurm" in text
    out = tmp_path / "suite"
    assert main(["suite", "--out", str(out), "--executor", "pbs", "--no-progress"]) != 0
    err = capsys.readouterr().err
    assert "--executor: expected one of local, slurm; found 'pbs'" in err
    assert len(err.strip().splitlines()) == 1 and not (out / "runs").exists()


def test_ranking_leads_with_the_models_over_seeds_and_tests_no_pair_of_seeds(capsys):
    """``pgm compare vae vae-seed1 pc`` printed "vae-seed1 > vae ... significant" as if between
    models, and ranked networks first: with a model of two seeds, the models over seeds come
    first, and the pair of seeds is said to be untested (training variance)."""
    from pgm_cli.ranking import print_ranking

    row = {"bits_per_dim": 2.1, "ci95": [-96.0, -94.0], "replicate_of": "vae"}
    terms = {"parameters": 1234, "all_converged": True}
    results = {
        "models": [
            {**row, "model": "vae-seed1", "rank": 1, "log_likelihood_nats": -95.2},
            {**row, "model": "vae", "rank": 2, "log_likelihood_nats": -95.7},
            {**row, "model": "pc", "rank": 3, "log_likelihood_nats": -99.0, "replicate_of": "pc"},
        ],
        "comparisons": [
            {
                "a": a,
                "b": b,
                "significant": True,
                "mean_difference_nats": d,
                "ci95": [0.1, 0.9],
                "p_value_adjusted": 0.01,
            }
            for a, b, d in (("vae-seed1", "pc", 3.8), ("vae", "pc", 3.3))
        ],
        "seed_pairs_not_compared": 1,
        "seeds": {
            "unit": "mixed",
            "models": [
                {
                    "model": "vae",
                    "num_seeds": 2,
                    "mean": -95.45,
                    "ci95": [-96.5, -94.4],
                    "seed_sd": 0.354,
                    "rank": 1,
                    "group": "a",
                    "equal_terms": terms,
                },
                {
                    "model": "pc",
                    "num_seeds": 1,
                    "mean": -99.0,
                    "ci95": None,
                    "seed_sd": None,
                    "rank": None,
                    "group": None,
                    "equal_terms": terms,
                },
            ],
            "comparisons": [],
            "single_seed_models": ["pc"],
        },
        "warnings": [],
    }
    print_ranking(results)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("models over seeds")
    vae = next(line for line in lines if line.split()[2:3] == ["vae"])
    assert vae.split()[:4] == ["1", "a", "vae", "2"] and "0.354" in vae and "1234" in vae
    assert lines.index("trained networks (one run each):") > lines.index(vae)
    said = next(line for line in lines if "pairwise differences" in line)
    assert "the 1 pair(s) of seeds of one model not tested" in said
    assert not any(line.startswith("  vae-seed1 > vae:") for line in lines)


def test_an_unknown_option_is_named_with_its_command(capsys):
    """It was answered by the top-level parser: ``pgm: error: unrecognized arguments: --bogus
    (see pgm --help)``, naming neither the command nor its help."""
    assert main(["list", "--bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "pgm list: error: unrecognized arguments: --bogus (see pgm list --help)"
    # a sub-command's own parser names it: `pgm data fetch`, not `pgm data`
    assert main(["data", "fetch", "mnist", "--bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "pgm data fetch: error: unrecognized arguments: --bogus (see pgm data fetch --help)"
    )


@pytest.mark.parametrize(
    "before, option",
    [
        (["--mirror", "URL"], "--mirror URL"),
        (["--mirror=URL"], "--mirror URL"),
        (["--data-dir", "FOLDER"], "--data-dir FOLDER"),
        (["--force"], "--force"),
    ],
)
@pytest.mark.parametrize("after", [["fetch", "binarized-mnist"], []], ids=["action", "none"])
def test_an_option_of_data_fetch_before_the_action_is_named_with_the_order(
    capsys, before, option, after
):
    """``pgm data --mirror URL fetch NAME`` said ``argument ACTION: invalid choice: 'URL'
    (choose from 'fetch')``; ``pgm data --force fetch NAME`` blamed ``pgm data fetch`` for an
    option it has."""
    assert main(["data", *before, *after]) == 2
    name = option.split()[0]
    assert capsys.readouterr().err.strip() == (
        f"pgm data: error: {name}: expected after the action, as an option of `pgm data fetch` "
        f"(pgm data fetch NAME {option}); found it before the action (see pgm data --help)"
    )


@pytest.mark.parametrize(
    "argv, said",
    [
        (["data", "--help", "--mirror", "x"], "usage: pgm data"),
        (["data", "--force", "--help"], "usage: pgm data"),
        (["-h", "data", "--force"], "usage: pgm"),
        (["--version", "data", "--force", "fetch"], "pgm "),
    ],
)
def test_help_and_version_come_before_the_check_of_option_order(capsys, argv, said):
    """``pgm data --help --mirror x`` printed help (exit 0) before the check of an option put
    before the action (which refused it, exit 2); help and the version still come first."""
    assert main(argv) == 0
    out = capsys.readouterr()
    assert out.out.startswith(said) and "expected after the action" not in out.err


@pytest.mark.parametrize(
    "argv, said",
    [
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["train", "x.toml", "--bogus=3"], "unrecognized arguments: --bogus=3"),
        (["data", "fetch", "--nope"], "unrecognized arguments: --nope"),
        (["train"], "the following arguments are required: --out"),
        (["train", "x.toml", "--set", "lr=-1", "-k5"], "unrecognized arguments: -k5"),
        (["train", "x.toml", "--set", "lr=-1e-3"], "the following arguments are required: --out"),
    ],
)
def test_an_unknown_option_is_named_before_a_missing_required_one(capsys, argv, said):
    """argparse checks required arguments first: ``pgm train --bogus`` said that --out is
    required, not that --bogus is unknown; a negative number is a value, not an option."""
    assert main(argv) == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["1e308", "1e300", "0", "nan", "inf"])
def test_suite_epochs_scale_is_bounded(tmp_path, capsys, scale):
    """--epochs-scale 1e308 overflowed to an infinite epoch count (a traceback after the data
    loaded); 1e300 trained a run of 4e300 epochs."""
    out = tmp_path / "suite"
    assert main(["suite", "--out", str(out), "--models", "vae", "--epochs-scale", scale]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pgm suite: error: --epochs-scale: expected a number > 0 and <= 1000")
    assert len(err.splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "fetch", "mnist", "--data-dir="],
        ["train", "--data-dir", "", "--out", "unused"],
        ["reproduce", "hvae-vamp", "--out", "unused", "--data-dir="],
    ],
)
def test_an_empty_data_dir_is_refused(capsys, argv, tmp_path, monkeypatch):
    """``--data-dir=`` silently meant the current folder (``pgm data fetch`` began downloading
    into it): refused as an empty path, nothing written."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert "argument --data-dir: expected a folder; found an empty path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_pgms_own_warnings_are_one_line_and_others_keep_their_form(monkeypatch, capsys):
    """A :class:`~pgm.errors.PgmWarning` (a plug-in that fails to load, a figure's missing
    glyphs) prints as one ``pgm COMMAND: warning:`` line, control characters escaped; another
    library's warning keeps Python's form (file, line, category), even when raised from pgm's
    code."""
    import warnings

    import pgm_cli.commands.list as list_command
    from pgm.errors import PgmWarning
    from pgm_cli.main import main

    def run(args):
        warnings.warn("ours, said once", PgmWarning, stacklevel=1)
        warnings.warn("a plug-in's\nname \x1b[31mred", PgmWarning, stacklevel=1)
        warnings.warn("a library's", DeprecationWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(list_command, "run", run)

    def shown(message, category, filename, lineno, file=None, line=None):  # Python's default,
        # in place of pytest's recorder: what a user's terminal gets
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = shown
        assert main(["list"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "pgm list: warning: ours, said once" in err
    assert "pgm list: warning: a plug-in's\\nname \\x1b[31mred" in err  # one line, escaped
    assert any("DeprecationWarning: a library's" in line and "test_cli.py" in line for line in err)
    assert not any("PgmWarning" in line for line in err)


def test_missing_glyphs_are_one_warning_per_character_and_process():
    """matplotlib warns once per glyph and figure (140 lines for a CJK name): gathered into one
    PgmWarning naming the characters not named before in this process; other warnings pass."""
    import warnings

    from evaluation.figures import _glyphs_missing_said_once
    from pgm.errors import PgmWarning

    def draw(*chars):
        with _glyphs_missing_said_once():
            for c in chars:
                for _ in range(3):
                    warnings.warn(
                        f"Glyph {ord(c)} (\\N{{X}}) missing from font(s) DejaVu Sans.",
                        stacklevel=1,
                    )
            warnings.warn("something else", RuntimeWarning, stacklevel=1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw("\u4e2d", "\u6587")
        draw("\u4e2d", "\u5b57")  # only the new character is named
        draw("\u6587")  # nothing new: no glyph warning
    ours = [str(w.message) for w in caught if issubclass(w.category, PgmWarning)]
    assert len(ours) == 2
    assert "'中文'" in ours[0] and "'字'" in ours[1]
    assert sum(issubclass(w.category, RuntimeWarning) for w in caught) == 3


@pytest.mark.parametrize(
    "extra, said",
    [
        (["--models", "vae", "vae"], "--models: expected each model once; found 'vae' more than"),
        (["--add", "{run}", "{run}/"], "--add: expected each run folder once; found '"),
    ],
)
def test_suite_refuses_a_model_or_run_named_twice_before_training(tmp_path, capsys, extra, said):
    """``pgm suite --models vae vae`` trained vae, then refused the comparison of one run folder
    listed twice, leaving the trained run behind: refused first, nothing created."""
    run = tmp_path / "run"
    run.mkdir()
    out = tmp_path / "out"
    argv = ["suite", "--out", str(out), "--no-progress", *(a.format(run=run) for a in extra)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and said in err
    assert not out.exists()


def test_logged_config_warnings_are_pgm_warning_lines(tmp_path, capsys, monkeypatch):
    """The warnings pgm logs (a key the model does not read) print as ``pgm train: warning:``
    lines, as its other messages do; they had no prefix at all."""
    from inference import training_config

    monkeypatch.setattr(training_config, "_WARNED", set())  # said once per process
    config = tmp_path / "tiny.toml"
    config.write_text(TINY + "num_components = 2\n")
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    err = capsys.readouterr().err.splitlines()
    said = [line for line in err if "num_components" in line]
    assert said and all(line.startswith("pgm train: warning: config: ") for line in said), err


def test_summaries_escape_control_characters_in_paths(tmp_path, capsys):
    """A newline in a run folder's name split ``pgm train``'s and ``pgm sample``'s summary
    lines; ``--json`` keeps the name as it is, as a JSON escape."""
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    run = tmp_path / "new\nline"
    assert main(["train", str(config), "--out", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"{tmp_path}/new\\nline: ")
    assert main(["sample", str(run), "-n", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == str(run / "samples.png")
