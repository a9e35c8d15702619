"""``compare_runs`` end to end on tiny trained runs: results.json's schema, the self-contained
HTML report checked cell by cell against results.json, the ArviZ netCDF file, the CLI."""

from __future__ import annotations

import base64
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evaluation.cli import main
from evaluation.compare import compare_runs
from evaluation.report import format_value, resolve_path
from inference import train

TINY = {"data": "digits", "epochs": 1, "num_train": 128, "batch_size": 64, "hidden_dim": 32,
        "latent_dim": 4, "eval_particles": 2, "device": "cpu", "seed": 0}

MODEL_KEYS = {"model", "log_likelihood_nats", "bits_per_dim", "num_dims", "ci95", "elbo_nats",
              "psis_khat", "num_particles", "rank", "group", "rank_range", "standard_error_nats"}
COMPARISON_KEYS = {"a", "b", "mean_difference_nats", "p_value", "p_value_adjusted", "ci95", "significant"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    configs = {
        "vae": {"model": "vae"},
        "vae-mix": {"model": "vae", "prior": "mixture", "num_components": 3},
        "autoencoder": {"model": "autoencoder"},
    }
    out = {}
    for name, cfg in configs.items():
        train({**TINY, **cfg}, root / name, progress=False)
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    # the VAE listed twice: the same evaluation (same seed) compared with itself
    run_list = [runs["vae"], runs["vae-mix"], runs["vae"], runs["autoencoder"]]
    results = compare_runs(
        run_list, out, num_particles=20, num_images=40, progress=False, n_resamples=499,
        curve_images=4, curve_max_particles=50,
    )
    return out, results


class _Page(HTMLParser):
    """Collects every image source, every table cell with its attributes, and external links."""

    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.cells: list[tuple[dict, str]] = []
        self.external: list[str] = []
        self._cell: dict | None = None
        self._text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(a)
        if tag == "td":
            self._cell, self._text = a, []
        for key in ("href", "src"):
            if key in a and not str(a[key]).startswith(("data:", "#")):
                self.external.append(f"{tag} {key}={a[key]}")

    def handle_data(self, data):
        if self._cell is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append((self._cell, "".join(self._text)))
            self._cell = None


def test_results_schema(report):
    out, results = report
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == results
    assert {"models", "comparisons", "ranking", "representation", "method", "warnings"} <= set(results)
    names = [m["model"] for m in results["models"]]
    assert names and "autoencoder" not in names  # no density: representation only
    (no_density,) = results["models_without_density"]
    assert no_density["model"] == "autoencoder" and "no density" in no_density["reason"]
    assert no_density["description"].startswith("deterministic")
    assert sorted(names) == ["vae", "vae#2", "vae-mix"]
    for row in results["models"]:
        assert MODEL_KEYS <= set(row), MODEL_KEYS - set(row)
        assert row["num_dims"] == 64 and row["num_particles"] == 20 and row["num_images"] == 40
        lo, hi = row["ci95"]
        assert lo <= row["log_likelihood_nats"] <= hi
        assert row["bits_per_dim"] == pytest.approx(-row["log_likelihood_nats"] / (64 * math.log(2)))
        assert row["elbo_nats"] <= row["log_likelihood_nats"]  # Jensen, on the same weights
        assert row["psis_khat"] is None or isinstance(row["psis_khat"], float)
        assert isinstance(row["active_units"], int) and row["rate_nats"] >= 0
    assert [m["rank"] for m in results["models"]] == [1, 2, 3]
    assert len(results["comparisons"]) == 3
    for c in results["comparisons"]:
        assert COMPARISON_KEYS <= set(c)
        assert c["mean_difference_nats"] >= 0  # a is the better-ranked model
        assert c["p_value"] <= c["p_value_adjusted"] <= 1
    probe = {r["model"]: r for r in results["representation"]}
    assert {"pixels", "vae", "vae-mix", "autoencoder"} <= set(probe)
    assert all(0 <= r["accuracy"] <= 1 and r["num_test"] == 40 for r in probe.values())
    assert set(results["k_curves"]) == {"vae", "vae#2", "vae-mix"}
    for f in results["figures"]:
        assert (out / f).is_file()


def test_model_compared_with_itself_is_not_different(report):
    _, results = report
    (same,) = [c for c in results["comparisons"] if {c["a"], c["b"]} == {"vae", "vae#2"}]
    assert same["mean_difference_nats"] == 0.0
    assert same["p_value"] == 1.0 and not same["significant"]
    groups = {m["model"]: m["group"] for m in results["models"]}
    assert set(groups["vae"]) & set(groups["vae#2"])


def test_html_is_self_contained_and_its_tables_equal_results_json(report):
    out, results = report
    page = _Page()
    page.feed((out / "report.html").read_text())
    page.close()
    assert page.tags[0] == "html" and "table" in page.tags
    assert not page.external, page.external  # readable offline: nothing fetched
    # every figure written is embedded, as a decodable PNG
    embedded = {img["data-name"]: img["src"] for img in page.images}
    assert set(embedded) == {Path(f).name for f in results["figures"]}
    for name, src in embedded.items():
        assert src.startswith("data:image/png;base64,"), name
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png == (out / "figures" / name).read_bytes()
    # every table cell names its source in results.json and shows it as formatted
    assert page.cells
    checked = 0
    for attrs, text in page.cells:
        assert "data-path" in attrs, (attrs, text)
        value = resolve_path(results, attrs["data-path"])
        assert text == format_value(value, attrs["data-format"]), attrs["data-path"]
        checked += any(ch.isdigit() for ch in text)
    paths = {a["data-path"] for a, _ in page.cells}
    for i in range(len(results["models"])):
        assert f"models/{i}/log_likelihood_nats" in paths and f"models/{i}/ci95" in paths
    for i in range(len(results["comparisons"])):
        assert f"comparisons/{i}/p_value_adjusted" in paths
    assert checked > 30
    html_text = (out / "report.html").read_text()
    assert "Method" in html_text and "Holm" in html_text and "K = 20" in html_text


def test_markdown_and_inference_data(report):
    import arviz as az

    out, results = report
    md = (out / "report.md").read_text()
    for row in results["models"]:
        assert f"| {format_value(row['log_likelihood_nats'], '.2f')} |" in md
    for f in results["figures"]:
        assert f"]({f})" in md
    idata = az.from_netcdf(str(out / "idata.nc"), engine="h5netcdf")
    for row in results["models"]:
        ll = idata.log_likelihood[row["model"]].values
        assert ll.shape == (1, 1, 40)
        assert float(ll.mean()) == pytest.approx(row["log_likelihood_nats"], rel=1e-9)
        lw = idata.log_weights[row["model"]].values
        assert lw.shape == (20, 40)
    assert idata.diagnostics["psis_khat"].shape == (3, 40)
    assert idata.observed_data["images"].shape == (40, 1, 8, 8)


def test_cli_compare_prints_the_ranking(runs, tmp_path, capsys):
    code = main([
        "compare", str(runs["vae"]), str(runs["vae-mix"]), str(runs["autoencoder"]),
        "--out", str(tmp_path / "cmp"), "-k", "5", "--num-images", "30", "--curve-images", "2",
        "--curve-max-particles", "20", "--no-progress",
    ])
    assert code == 0
    text = capsys.readouterr().out
    assert "95% CI" in text and "vae-mix" in text and "report.html" in text
    assert (tmp_path / "cmp" / "report.html").is_file()


def test_compare_refuses_runs_on_different_data(runs, tmp_path):
    other = tmp_path / "binary"
    train({**TINY, "data": "digits-binary", "epochs": 1, "num_train": 64}, other, progress=False)
    with pytest.raises(ValueError, match="runs: expected every run to be trained on the same data"):
        compare_runs([runs["vae"], other], tmp_path / "out", num_particles=2, progress=False)
    with pytest.raises(ValueError, match="at least one model with a density"):
        compare_runs([runs["autoencoder"]], tmp_path / "out", num_particles=2, progress=False)
