"""Defects found in review (issue 11), each pinned by a test: the torchrun module no longer
shadows ``inference.train``; the CLI maps only the project's own errors to exit 2; the declared
dependencies cover what is imported; ``sign_flip_test`` refuses NaN; the discretized logistic
stays finite for tiny log-scales; the compact letter display is correct."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluation.statistics import (
    PairedComparison,
    compact_letter_columns,
    rank_models,
    sign_flip_test,
)
from pgm.distributions.discretized_logistic import (
    DiscretizedLogisticMixture,
    discretized_logistic_log_prob,
)
from pgm.errors import ContractError, PgmError, PgmTypeError, UnknownNameError
from pgm_cli import main as cli
from pgm_cli.commands import list as list_command

REPO = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# -- inference.train is the function ------------------------------------------------------------
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


# -- the CLI maps only the project's own errors -------------------------------------------------
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


# -- dependencies -------------------------------------------------------------------------------
def test_declared_dependencies_cover_the_imports():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    by_name = {d.split(">")[0].split("<")[0].split(";")[0].strip(): d for d in deps}
    assert "scipy>=1.15" in by_name["scipy"]  # stats.bootstrap(rng=...) is new in 1.15
    assert {"xarray", "h5netcdf"} <= set(by_name)  # evaluation/compare.py imports/uses them


# -- statistics ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_sign_flip_test_refuses_non_finite_differences(bad):
    d = np.array([0.3, -0.1, bad, 0.2, 0.5])
    with pytest.raises(PgmError, match=r"^differences: expected finite values; found 1 NaN/inf$"):
        sign_flip_test(d, n_resamples=99)


def _comparisons(order: str, significant: set[tuple[str, str]]) -> list[PairedComparison]:
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    return [
        PairedComparison(a, b, 1.0, (0.5, 1.5), 0.1, 0.01, 0.01, 0.01, (a, b) in significant)
        for a, b in pairs
    ]


def _groups(order: str, significant: set[tuple[str, str]]) -> dict[str, str]:
    means = [-float(i) for i in range(len(order))]  # the order given is the rank order
    rows = rank_models(list(order), means, _comparisons(order, significant))
    return {r["model"]: r["group"] for r in rows}


@pytest.mark.parametrize(
    "order, significant, expected",
    [
        ("ABC", {("A", "B")}, {"A": "a", "B": "b", "C": "ab"}),  # the case: A~C share a
        ("ABC", set(), {"A": "a", "B": "a", "C": "a"}),
        ("ABC", {("A", "B"), ("A", "C"), ("B", "C")}, {"A": "a", "B": "b", "C": "c"}),
        (
            "ABCD",
            {("A", "C"), ("A", "D"), ("B", "D"), ("C", "D")},
            {"A": "a", "B": "ab", "C": "b", "D": "c"},
        ),
        ("ABCD", {("A", "D")}, {"A": "a", "B": "ab", "C": "ab", "D": "b"}),
        ("ABCD", {("A", "B"), ("C", "D")}, {"A": "ab", "B": "cd", "C": "ac", "D": "bd"}),
    ],
)
def test_compact_letter_display(order, significant, expected):
    groups = _groups(order, significant)
    assert groups == expected
    for i, a in enumerate(order):  # the defining property, checked pair by pair
        for b in order[i + 1 :]:
            share = bool(set(groups[a]) & set(groups[b]))
            assert share == ((a, b) not in significant), (a, b)


def test_compact_letter_display_property_on_random_patterns():
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = int(rng.integers(2, 7))
        different = [(i, j) for i in range(m) for j in range(i + 1, m) if rng.random() < 0.4]
        columns = compact_letter_columns(m, different)
        for i in range(m):
            assert any(i in c for c in columns)  # every model gets a letter
            for j in range(i + 1, m):
                assert any(i in c and j in c for c in columns) == ((i, j) not in different)


# -- the discretized logistic -------------------------------------------------------------------
@pytest.mark.parametrize("log_scale", [-100.0, -84.0, -30.0])
def test_discretized_logistic_is_finite_for_tiny_log_scales(log_scale):
    s = torch.tensor([log_scale], requires_grad=True)
    loc = torch.tensor([2.3], requires_grad=True)
    value = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]).unsqueeze(-1)
    lp = discretized_logistic_log_prob(value, loc, s, num_levels=5)
    assert torch.isfinite(lp).all()
    lp[2].sum().backward()  # the level holding the mass
    assert torch.isfinite(s.grad).all() and torch.isfinite(loc.grad).all()
    clamped = discretized_logistic_log_prob(value, loc.detach(), torch.tensor([-7.0]), num_levels=5)
    torch.testing.assert_close(lp.detach(), clamped)  # clamped at -7, as PixelCNN++ does
    assert abs(float(lp.detach()[2])) < 1e-6  # level 2 holds all the mass: log 1


def test_discretized_logistic_mixture_still_normalises_with_a_tiny_scale():
    d = DiscretizedLogisticMixture(
        torch.zeros(3, 2),
        torch.tensor([[0.2, 3.6]] * 3),
        torch.tensor([[-100.0, -1.0]] * 3),
        num_levels=5,
    )
    total = d.level_log_probs().exp().sum(-1)
    torch.testing.assert_close(total, torch.ones(3))
    assert math.isclose(
        float(d.log_prob(torch.zeros(3))[0].exp()),
        0.5
        + 0.5
        * float(
            discretized_logistic_log_prob(
                torch.tensor(0.0), torch.tensor(3.6), torch.tensor(-1.0), 5
            ).exp()
        ),
        rel_tol=1e-5,
    )


# -- pgm compare leaves nothing behind on bad input ------------------------------------------
def test_compare_of_a_missing_run_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["compare", str(tmp_path / "missing"), "--out", str(out), "--no-progress"]) == 2
    assert "missing" in capsys.readouterr().err
    assert not out.exists()  # no out/figures/ left behind
