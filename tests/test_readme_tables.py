"""The README's results table is generated from a results.json, replacing only its marked block."""

import json

import pytest

from benchmarks.readme_tables import END, START, main, replace_block, results_table
from pgm.errors import PgmError

RESULTS = {
    "models": [
        {
            "model": "vae",
            "rank": 2,
            "group": "b",
            "log_likelihood_nats": -94.591,
            "ci95": [-95.82, -93.42],
            "bits_per_dim": 2.1321,
            "elbo_nats": -96.85,
            "psis_khat": 0.78,
            "psis_khat_unreliable_fraction": 0.62,
            "active_units": 10,
            "latent_dim": 16,
            "training": "still falling",
        },
        {
            "model": "pixelcnn",
            "rank": 1,
            "group": "a",
            "log_likelihood_nats": -85.15,
            "ci95": [-86.23, -84.09],
            "bits_per_dim": 1.919,
            "elbo_nats": None,
            "psis_khat": None,
            "psis_khat_unreliable_fraction": None,
            "active_units": None,
            "latent_dim": None,
            "training": "flat",
        },
    ],
    "method": {
        "date": "2026-12-06T20:10:03Z",
        "dataset": "digits",
        "split": "test",
        "num_images": 360,
        "num_particles": 500,
        "versions": {"pgm": "0.1.0", "pgm git commit": "39b6bc88ce4f9f796ee8ca4eaf37"},
    },
}

README = f"# title\n\nbefore the table\n{START}\n| old | table |\n{END}\nafter the table\n"


def test_the_block_is_replaced_and_nothing_else_changes(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps(RESULTS))
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert main([str(tmp_path / "results.json"), "--readme", str(readme)]) == 0
    new = readme.read_text()
    head, rest = new.split(START)
    block, tail = rest.split(END)
    assert head == README.split(START)[0]
    assert tail == README.split(END)[1]
    assert "| old | table |" not in block
    lines = [x for x in block.splitlines() if x.startswith("| ") and "---" not in x]
    # header, then the rows in rank order, with the report's numbers
    assert lines[1] == ("| 1 | a | pixelcnn | −85.15 [−86.23, −84.09] | 1.919 |  |  |  |  | flat |")
    assert lines[2] == (
        "| 2 | b | vae | −94.59 [−95.82, −93.42] | 2.132 | −96.85 | 0.78 | 62% | 10 of 16 "
        "| still falling |"
    )
    assert "2026-12-06T20:10:03Z" in block and "`39b6bc88ce4f`" in block
    assert block.strip() in capsys.readouterr().out
    # a second run on the same results leaves the file as it is
    assert main([str(tmp_path / "results.json"), "--readme", str(readme)]) == 0
    assert readme.read_text() == new


def test_missing_markers_and_empty_results_are_refused(tmp_path):
    with pytest.raises(PgmError, match="expected one"):
        replace_block("no markers here\n", "x")
    with pytest.raises(PgmError, match="'models'"):
        results_table({"models": []})
    (tmp_path / "r.json").write_text(json.dumps(RESULTS))
    (tmp_path / "README.md").write_text("no markers\n")
    assert main([str(tmp_path / "r.json"), "--readme", str(tmp_path / "README.md")]) == 2
    assert (tmp_path / "README.md").read_text() == "no markers\n"
