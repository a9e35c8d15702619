"""How the ``pgm`` command answers failures: the project's own errors (one hierarchy, under
:class:`pgm.errors.PgmError`) are one line and exit status 2, anything else is a bug and surfaces
with its traceback; bad input leaves nothing behind; the torchrun entry point does not shadow
``inference.train``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pgm.errors import ContractError, PgmError, PgmTypeError, UnknownNameError
from pgm_cli import main as cli
from pgm_cli.commands import list as list_command

REPO = Path(__file__).resolve().parents[1]


def test_the_torchrun_module_does_not_shadow_inference_train():
    code = (
        "import inspect\n"
        "import pgm_cli.torchrun\n"
        "from inference import train\n"
        "import evaluation.suite\n"
        "assert inspect.isfunction(train), train\n"
        "assert evaluation.suite.train is train\n"
        "from pgm_cli.main import main\n"
        "raise SystemExit(main(['suite', '--out', '/nonexistent-dir/x', "
        "'--models', 'no-such-model']))\n"
    )
    assert not (REPO / "inference" / "train.py").exists()
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "not callable" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "error",
    [
        PgmError("x: expected A; found B"),
        ContractError("site 'z': expected A; found B"),
        PgmTypeError("x: expected a Tensor; found list"),
        UnknownNameError("unknown model 'q'; expected one of: vae"),
        FileNotFoundError("no such file: run/config.json"),
    ],
)
def test_the_project_errors_are_one_line_and_exit_2(error, monkeypatch, capsys):
    def fail(args):
        raise error

    monkeypatch.setattr(list_command, "run", fail)
    monkeypatch.delenv("PGM_DEBUG", raising=False)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pgm list: error: ")
    assert "'" + str(error.args[0]) not in err  # UnknownNameError's message is not quoted


@pytest.mark.parametrize(
    "bug",
    [
        TypeError("unsupported operand type(s) for +: 'int' and 'str'"),
        AttributeError("no attribute 'x'"),
        RuntimeError("shape '[32, 1, 8, 8, 17]' is invalid"),
        ValueError("a ValueError from torch"),
        KeyError("key"),
        ZeroDivisionError("division by zero"),
    ],
)
def test_real_bugs_surface_as_bugs(bug, monkeypatch):
    def fail(args):
        raise bug

    monkeypatch.setattr(list_command, "run", fail)
    monkeypatch.delenv("PGM_DEBUG", raising=False)
    with pytest.raises(type(bug)):  # not swallowed: the interpreter prints the traceback, exit 1
        cli.main(["list"])


def test_the_project_error_types_are_one_hierarchy():
    from inference.checkpoint import CheckpointError
    from inference.config import ConfigError
    from pgm_cli.errors import UsageError

    for kind in (
        ContractError,
        PgmTypeError,
        UnknownNameError,
        UsageError,
        ConfigError,
        CheckpointError,
    ):
        assert issubclass(kind, PgmError) and issubclass(kind, ValueError)
    assert issubclass(PgmTypeError, TypeError) and issubclass(UnknownNameError, KeyError)


def test_compare_of_a_missing_run_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["compare", str(tmp_path / "missing"), "--out", str(out), "--no-progress"]) == 2
    assert "missing" in capsys.readouterr().err
    assert not out.exists()  # no out/figures/ left behind


def test_a_very_long_message_keeps_its_start_and_end():
    """A message longer than 2,000 characters (a value echoed whole) is cut in the middle,
    saying how much was left out; a shorter one is shown whole."""
    text = "start " + "x" * 10_000 + " end"
    line = cli.one_line(PgmError(text))
    assert len(line) < 2100 and line.startswith("start xxx") and line.endswith("xxx end")
    assert f"… ({len(text) - 2000:,} characters left out) …" in line
    assert cli.one_line(PgmError("short " * 300)) == ("short " * 300).strip()


def test_a_newline_in_a_path_is_shown_escaped_not_as_a_space(tmp_path, capsys):
    """pgm's messages are one line: a newline in one is the path's, and is shown as ``\\n``
    (joined with a space, ``a\\nb`` read as a folder ``a b``); another library's multi-line
    message still has its lines joined."""
    run = tmp_path / "a\nb"
    assert cli.main(["evaluate", str(run), "-k", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.rstrip().endswith(str(tmp_path) + "/a\\nb"), err

    def foreign():
        exec(compile("raise OSError('first line\\n  second line')", "<library>", "exec"))

    try:
        foreign()
    except OSError as caught:
        assert cli._warning_line(caught) == "first line second line"


def test_options_are_never_abbreviated(tmp_path, capsys):
    """``--data`` on a command that has only ``--data-dir`` was taken as ``--data-dir``, silently
    (the run trained on the config's data): a prefix is now an unknown option, and nothing is
    written."""
    out = tmp_path / "run"
    argv = ["train", "vae-digits", "--out", str(out), "--data", "digits-binary", "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "pgm train: error: unrecognized arguments: --data digits-binary (see pgm train --help)\n"
    )
    assert not out.exists()
    assert cli.main(["evaluate", str(out), "--num-part", "5"]) == 2
    assert "unrecognized arguments: --num-part 5" in capsys.readouterr().err


def test_ranking_columns_never_run_together(capsys):
    """Wide numbers (an unconverged run's -65,759,654 nats ELBO) and long names keep every column
    apart: each line splits on two spaces into its eight cells."""
    from pgm_cli.ranking import print_ranking

    row = {"rank": 1, "group": "a", "log_likelihood_nats": -6488.961, "ci95": [-14877.0, -3191.0]}
    row.update(bits_per_dim=146.2749, elbo_nats=-65759654.47, psis_khat=98.39)
    print_ranking([{**row, "model": "a-model-name-longer-than-twenty-two"}, {**row, "model": "b"}])
    import re

    lines = capsys.readouterr().out.splitlines()
    assert [len(re.split(r"\s{2,}", line.strip())) for line in lines] == [8, 8, 8]
    assert "-6488.96  [-14877.00, -3191.00]  146.2749  -65759654.47  98.39" in lines[1]


def test_ranking_aligns_wide_names_and_absurd_numbers(capsys):
    """A CJK model name takes two terminal columns a character, so the next column starts at
    the same terminal column on every line; a diverged run's -1e300 nats prints in 4
    significant digits, not 300."""
    import unicodedata

    from pgm_cli.ranking import print_ranking

    row = {"rank": 1, "group": "a", "log_likelihood_nats": -90.0, "ci95": [-91.0, -89.0]}
    row.update(bits_per_dim=0.1656, elbo_nats=-1e300, psis_khat=0.3)
    print_ranking([{**row, "model": "变分自编码器"}, {**row, "model": "vae"}])
    lines = capsys.readouterr().out.splitlines()

    def column_of(line, text):  # the terminal column where text starts
        before = line[: line.index(text)]
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in before)

    assert (
        column_of(lines[1], "-90.00")
        == column_of(lines[2], "-90.00")
        == (column_of(lines[0], "log p(x) nats") + len("log p(x) nats") - len("-90.00"))
    )
    assert "-1e+300" in lines[1] and max(len(line) for line in lines) < 120


def test_ranking_escapes_control_characters_and_shortens_absurd_differences(capsys):
    """A run folder's name with a newline, a tab or an escape code split or coloured the table;
    it prints escaped, one line per model. A comparison of a diverged run printed 300 digits."""
    from pgm_cli.ranking import print_ranking

    row = {"rank": 1, "group": "a", "log_likelihood_nats": -90.0, "ci95": [-91.0, -89.0]}
    row.update(bits_per_dim=0.1656, elbo_nats=-91.0, psis_khat=0.3)
    bad = "two\nlines\tand \x1b[31mred"
    comparison = {"a": "b", "b": bad, "significant": True, "mean_difference_nats": 1e300}
    comparison.update(ci95=[1e299, 1e301], p_value_adjusted=0.001)
    results = {"models": [{**row, "model": bad}, {**row, "model": "b"}]}
    print_ranking({**results, "comparisons": [comparison]})
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("1     a      two\\nlines\\tand \\x1b[31mred")
    assert "\x1b" not in "".join(lines) and "\t" not in "".join(lines)
    assert "b > two\\nlines" in lines[4] and "1e+300 nats [1e+299, 1e+301]" in lines[4]
    assert max(len(line) for line in lines) < 200
