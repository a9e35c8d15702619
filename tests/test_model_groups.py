"""``pgm compare --group NAME=RUN,...``: hand-made groups of runs (models of several seeds) are
refused in one line when a run is named twice, in one group or in two."""

from __future__ import annotations

import pytest

from evaluation.replicates import group_runs
from pgm.errors import PgmError

CFG = {"model": "vae", "image_shape": [1, 8, 8], "num_levels": 17}


def _runs(tmp_path):
    return [(n, tmp_path / n, {**CFG, "seed": s}) for s, n in enumerate(["a", "b", "c"])]


def test_a_run_named_twice_in_one_group_is_said_so(tmp_path):
    """It said "found a in g and g", as if two groups held it."""
    with pytest.raises(PgmError) as caught:
        group_runs(_runs(tmp_path), {"g": ["a", "a"]})
    assert str(caught.value) == "--group: expected each run once in a group; found a twice in g"


def test_a_run_in_two_groups_names_both(tmp_path):
    with pytest.raises(PgmError) as caught:
        group_runs(_runs(tmp_path), {"g": ["a", "b"], "h": ["c", "a"]})
    assert str(caught.value) == "--group: expected each run in one group; found a in g and h"
    groups = group_runs(_runs(tmp_path), {"g": ["a", "b"]})
    assert [(g.model, g.runs) for g in groups][0] == ("g", ["a", "b"])
