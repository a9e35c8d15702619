"""The dependencies pyproject.toml declares cover what the code imports, at the versions whose
features it uses."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_declared_dependencies_cover_the_imports():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    by_name = {d.split(">")[0].split("<")[0].split(";")[0].strip(): d for d in deps}
    assert "scipy>=1.15" in by_name["scipy"]  # stats.bootstrap(rng=...) is new in 1.15
    assert {"xarray", "h5netcdf"} <= set(by_name)  # evaluation/compare.py imports/uses them
