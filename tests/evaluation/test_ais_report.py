"""AIS in the command line and the comparison report: ``pgm evaluate --method ais``, ``pgm bdmc``,
``pgm compare --method ais`` (results.json, report.html cell by cell, report.md, idata.nc)."""

from __future__ import annotations

import json

import pytest
from test_evaluation_report import TINY, _Page

from evaluation.report import format_value, resolve_path
from evaluation.warnings_text import ais_disagreement as _warning
from inference import train
from pgm_cli.main import main

AIS_KEYS = {
    "model",
    "is_nats",
    "is_ci95",
    "ais_nats",
    "ais_ci95",
    "difference_nats",
    "difference_ci95",
    "agree",
    "bdmc_gap_nats",
    "bdmc_gap_ci95",
    "bdmc_lower_nats",
    "bdmc_upper_nats",
}


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ais-runs")
    train({**TINY, "model": "vae"}, root / "vae", progress=False)
    return root / "vae"


def test_evaluate_and_bdmc_commands(vae_run, capsys):
    assert (
        main(
            [
                "evaluate",
                str(vae_run),
                "--method",
                "ais",
                "--steps",
                "4",
                "--chains",
                "2",
                "--num-images",
                "6",
                "--no-progress",
                "--json",
            ]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out)
    assert row["method"] == "ais" and row["num_steps"] == 4 and row["num_images"] == 6
    assert row["file"] == "evaluation-test-ais-T4-C2-L10-n6.json"
    assert row == json.loads((vae_run / row["file"]).read_text())
    assert (
        main(
            [
                "bdmc",
                str(vae_run),
                "--steps",
                "4",
                "--chains",
                "2",
                "--num-images",
                "4",
                "--no-progress",
                "--json",
            ]
        )
        == 0
    )
    bounds = json.loads(capsys.readouterr().out)
    assert bounds["gap_nats"] == pytest.approx(bounds["upper_nats"] - bounds["lower_nats"])
    assert main(["evaluate", str(vae_run), "--method", "ais", "--steps", "0"]) == 2


def test_compare_with_ais_reports_both_estimates_and_the_gap(
    vae_run, tmp_path, capsys, monkeypatch
):
    import arviz as az

    from evaluation import ais_agreement

    # the warning IS and AIS give when they disagree (its sentence is tested below), forced
    monkeypatch.setattr(ais_agreement, "ais_disagreement", lambda row: f"{row['model']}: forced")
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                str(vae_run),
                "--out",
                str(out),
                "-k",
                "20",
                "--num-images",
                "12",
                "--curve-images",
                "0",
                "--method",
                "ais",
                "--steps",
                "4",
                "--chains",
                "3",
                "--bdmc-images",
                "4",
                "--no-progress",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    section = results["ais"]
    assert section["settings"]["num_steps"] == 4 and section["settings"]["bdmc_images"] == 4
    (row,) = section["models"]
    assert AIS_KEYS <= set(row)
    assert row["is_nats"] == pytest.approx(results["models"][0]["log_likelihood_nats"])
    assert row["agree"] == (row["difference_ci95"][0] <= 0 <= row["difference_ci95"][1])
    assert results["models"][0]["ais_log_likelihood_nats"] == pytest.approx(row["ais_nats"])
    page_text = (out / "report.html").read_text()
    page = _Page()
    page.feed(page_text)
    ais_cells = [(a, t) for a, t in page.cells if a["data-path"].startswith("ais/")]
    assert {a["data-path"] for a, _ in ais_cells} >= {
        "ais/models/0/ais_nats",
        "ais/models/0/bdmc_gap_nats",
    }
    for attrs, text in ais_cells:
        assert text == format_value(resolve_path(results, attrs["data-path"]), attrs["data-format"])
    assert "Importance sampling against AIS" in (out / "report.md").read_text()
    # the AIS section is a section like the others: a heading with its anchor and a link to it
    assert '<a href="#ais">' in page_text and '<h2 id="ais">' in page_text
    # AIS's warning is a record like every other, and the report says it
    (warning,) = [w for w in results["warnings"] if w["code"] == "ais-unreliable"]
    assert warning["model"] == "vae" and warning["value"] == row["difference_nats"]
    assert warning["message"] == "vae: forced" and "vae: forced" in (out / "report.md").read_text()
    idata = az.from_netcdf(str(out / "idata.nc"), engine="h5netcdf")
    assert float(idata.ais_log_likelihood["vae"].values.mean()) == pytest.approx(
        row["ais_nats"], rel=1e-9
    )


def test_disagreement_is_warned_with_its_direction():
    row = {
        "model": "m",
        "agree": False,
        "difference_nats": 0.9,
        "difference_ci95": [0.5, 1.3],
        "is_nats": -90.0,
        "ais_nats": -89.1,
        "num_steps": 100,
        "num_chains": 4,
        "bdmc_gap_nats": 0.2,
    }
    assert "biased low" in _warning(row) and "[0.500, 1.300]" in _warning(row)
    assert "too short" in _warning(
        {**row, "difference_nats": -0.9, "difference_ci95": [-1.3, -0.5]}
    )
    assert _warning({**row, "agree": True}) is None
    assert "BDMC gap" in _warning({**row, "agree": True, "bdmc_gap_nats": 3.0})
